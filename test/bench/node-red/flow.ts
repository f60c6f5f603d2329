// The Node-RED flow that does the daemon's poll: one modbus-client config node (Modbus TCP to the
// simulator) and one modbus-read node per unit reading the LW-485 status block every second, the
// way the contrib's own examples poll. The read outputs are left unwired: no debug node, no
// decoding, so Node-RED does strictly less work per read than the daemon (which decodes every
// block into a machine state).
export interface PollFlowOptions {
  host: string;
  port: number;
  units: readonly number[];
  /** 3 = holding registers, 4 = input registers. */
  fc: 3 | 4;
  address: number;
  quantity: number;
  rateMs: number;
  /** The same reply timeout the daemon is given. */
  timeoutMs: number;
  /**
   * The contrib's TCP default (true) keeps one request in flight PER UNIT, so 32 go out at once;
   * false keeps one in flight on the whole connection, as the daemon's bus master (and an RS-485
   * line) does.
   */
  parallelUnits: boolean;
}

export type FlowNode = Record<string, string | number | boolean | null | unknown[]>;

export function pollFlow(o: PollFlowOptions): FlowNode[] {
  const tab = 'bench-tab';
  const client = 'bench-client';
  const reads: FlowNode[] = o.units.map((unit, i) => ({
    id: `bench-read-${unit}`,
    type: 'modbus-read',
    z: tab,
    name: `unit ${unit} status`,
    topic: '',
    showStatusActivities: false,
    logIOActivities: false,
    showErrors: false,
    showWarnings: false,
    unitid: String(unit),
    dataType: o.fc === 4 ? 'InputRegister' : 'HoldingRegister',
    adr: String(o.address),
    quantity: String(o.quantity),
    rate: String(o.rateMs),
    rateUnit: 'ms',
    delayOnStart: false,
    startDelayTime: '',
    server: client,
    useIOFile: false,
    ioFile: '',
    useIOForPayload: false,
    emptyMsgOnFail: false,
    x: 200,
    y: 40 + 40 * i,
    wires: [[], []],
  }));
  return [
    { id: tab, type: 'tab', label: 'footprint bench', disabled: false, info: '' },
    {
      id: client,
      type: 'modbus-client',
      name: 'simulator',
      clienttype: 'tcp',
      bufferCommands: true,
      stateLogEnabled: false,
      queueLogEnabled: false,
      failureLogEnabled: true,
      tcpHost: o.host,
      tcpPort: String(o.port),
      tcpType: 'DEFAULT',
      serialPort: '/dev/ttyUSB',
      serialType: 'RTU-BUFFERD',
      serialBaudrate: '9600',
      serialDatabits: '8',
      serialStopbits: '1',
      serialParity: 'none',
      serialConnectionDelay: '100',
      serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: '1',
      commandDelay: '1',
      clientTimeout: String(o.timeoutMs),
      reconnectOnTimeout: true,
      reconnectTimeout: '2000',
      parallelUnitIdsAllowed: o.parallelUnits,
    },
    ...reads,
  ];
}
