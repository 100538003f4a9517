/**
 * Protocol constants of IPv6 host configuration and neighbour discovery, defined once: RFC 4861
 * section 10 (host constants, node constants), RFC 4862 5.1 (DupAddrDetectTransmits). The state
 * machines here take them as defaults; the Stack's `DEFAULT_STACK_LIMITS` takes its neighbour,
 * DAD and router-discovery defaults from here too.
 */

/** RFC 4861 10: MAX_MULTICAST_SOLICIT. */
export const MAX_MULTICAST_SOLICIT = 3;
/** RFC 4861 10: MAX_UNICAST_SOLICIT. */
export const MAX_UNICAST_SOLICIT = 3;
/** RFC 4861 10: RETRANS_TIMER, 1 s. */
export const RETRANS_TIMER_MS = 1000;
/** RFC 4861 10: REACHABLE_TIME, 30 s. */
export const REACHABLE_TIME_MS = 30_000;
/** RFC 4861 10: DELAY_FIRST_PROBE_TIME, 5 s. */
export const DELAY_FIRST_PROBE_TIME_MS = 5_000;
/** RFC 4861 10: MAX_RTR_SOLICITATIONS. */
export const MAX_RTR_SOLICITATIONS = 3;
/** RFC 4861 10: RTR_SOLICITATION_INTERVAL, 4 s. */
export const RTR_SOLICITATION_INTERVAL_MS = 4000;
/**
 * RFC 4861 10: MAX_RTR_SOLICITATION_DELAY, 1 s: the bound of the random delay before the first
 * router solicitation and (RFC 4862 5.4.2) before the first DAD probe.
 */
export const MAX_RTR_SOLICITATION_DELAY_MS = 1000;
/** RFC 4862 5.1: DupAddrDetectTransmits default. */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
