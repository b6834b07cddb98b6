/** Milliseconds since the epoch. Passed in everywhere time matters, so tests can fix it. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
