// The simulated laundry room's public API.
export { SimRoom, type SimRoomOptions } from './room.js';
export { SimControl, type UnitSnapshot, type WireFaultSnapshot } from './control.js';
export { SimActionError, type SimActionErrorKind } from './errors.js';
export { demoRoomUnits, simConfigSchema, simUnitSchema, simUnitsSchema, type SimConfig, type SimUnitConfig } from './config.js';
export { Lw485, Lw485State, Lw485Command, Lw485Result, LW485_STATE_NAMES, CMD_BLOCK, PROGRAM_TABLE, type Lw485Json, type Lw485Options, type Lw485Snapshot } from './lw485.js';
export { WASHER_PROGRAMS, DRYER_PROGRAMS, MODEL_CODE, Phase, programRegisters, type Lw485Kind, type Lw485Program } from './lw485-programs.js';
export { Rio8, RIO8_MODULE_TYPE, REG_PULSE_TRAIN, REG_PULSE_ON, REG_PULSE_OFF, REG_PULSE_COUNTER, type Rio8Json, type Rio8Options, type Rio8Snapshot, type Rio8ChannelSnapshot } from './rio8.js';
export { CoinMachine, type CoinMachineConfig, type CoinMachineSnapshot } from './coin-machine.js';
export { RtuFrameAssembler, RtuSlave, type ReplyPlan, type SlaveTarget } from './rtu-slave.js';
export { startControlServer, type ControlServer } from './control-server.js';
export { SimSecureCard, type SecureCardOptions } from './secure-card.js';
