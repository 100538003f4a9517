/**
 * The deterministic-simulation toolkit, public as `netstack/testing`: seeded randomness, fake
 * bindings with a virtual clock, and a fake network of hosts joined by impaired links.
 */
export type { FakeBindingsOptions, SentFrame } from "./fake-bindings.ts";
export { FakeBindings, FakeClock } from "./fake-bindings.ts";
export type {
  Endpoint,
  FakeNetworkOptions,
  LinkOptions,
  SegmentOptions,
  SimLinkStats,
  Tap,
  TapRecord,
} from "./fake-network.ts";
export { FakeNetwork, POISON, SimLink } from "./fake-network.ts";
export { Rng } from "./rng.ts";
