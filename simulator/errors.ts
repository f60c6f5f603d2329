// Why a control action on the simulated room did nothing: the HTTP control API turns the kind
// into a status code (unknown-unit 404, bad-argument 400, not-possible 409).
export type SimActionErrorKind = 'unknown-unit' | 'bad-argument' | 'not-possible';

export class SimActionError extends Error {
  constructor(
    readonly kind: SimActionErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'SimActionError';
  }
}
