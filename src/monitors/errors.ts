/** A vassal source the emperor cannot watch as written (`--emperor SPEC`). */
export class MonitorSpecError extends Error {}
