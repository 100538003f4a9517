/**
 * Ephemeral port selection: RFC 6056 section 3.3.1 ("Algorithm 1: Simple Port Randomization
 * Algorithm") over the IANA dynamic range of RFC 6335 section 6 (49152..65535).
 *
 * The first candidate is drawn uniformly from the range; from there the range is walked upwards
 * (wrapping) until a port passes the caller's check, so every free port can be found and the
 * search ends after `max - min + 1` checks at most. Shared by every transport that binds ports.
 */

/** RFC 6335 section 6: the Dynamic and/or Private Ports. */
export const EPHEMERAL_MIN = 49152;
export const EPHEMERAL_MAX = 65535;

/**
 * A port in `[min, max]` for which `isFree(port)` is true, starting at a random offset
 * (`random()` is a uniform 32-bit unsigned integer), or -1 when every port of the range is taken.
 */
export function pickEphemeralPort(
  random: () => number,
  isFree: (port: number) => boolean,
  min = EPHEMERAL_MIN,
  max = EPHEMERAL_MAX,
): number {
  const count = max - min + 1;
  if (count <= 0) return -1;
  // RFC 6056 3.3.1: next_ephemeral = min_ephemeral + (random() % num_ephemeral).
  let offset = (random() >>> 0) % count;
  for (let i = 0; i < count; i++) {
    const port = min + offset;
    if (isFree(port)) return port;
    // RFC 6056 3.3.1: on a collision, try the next port (wrapping around the range).
    offset = offset + 1 === count ? 0 : offset + 1;
  }
  return -1;
}
