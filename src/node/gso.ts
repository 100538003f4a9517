/**
 * Software fallback for links opened with virtio-net headers (IFF_VNET_HDR): turns a received batch
 * of frames with their headers into plain MTU-sized frames with complete checksums, for a receiver
 * that cannot take GSO super-frames or partial checksums (the stack until it handles them itself).
 *
 * - GSO super-frame (TCPV4, TCPV6, UDP_L4): split with `segment` (src/wire/virtio-net.ts) into its
 *   segments, as the kernel's GSO would have before handing them to a device without offloads.
 * - NEEDS_CSUM without GSO: the checksum is completed in place (`completeChecksum`).
 * - A header that does not check (unknown GSO type, checksum range outside the frame, headers the
 *   segmentation cannot handle): the frame is dropped and counted.
 */
import {
  completeChecksum,
  segment,
  segmentSpace,
  VirtioNetHdrView,
  VNET_HDR_LEN,
  VnetGso,
} from "../wire/virtio-net.ts";

/** What the fallback did. */
export interface GsoStats {
  /** GSO super-frames split. */
  superFrames: number;
  /** Segments they were split into. */
  segments: number;
  /** Partial checksums completed (frames without GSO). */
  checksums: number;
  /** Frames dropped: a header that does not check, or headers segmentation cannot handle. */
  dropped: number;
  /** The largest super-frame seen (bytes, link header included). */
  largest: number;
}

const MIB = 1 << 20;

/** Splits super-frames and completes checksums of a batch; see the file comment. */
export class GsoSplitter {
  readonly stats: GsoStats = { superFrames: 0, segments: 0, checksums: 0, dropped: 0, largest: 0 };
  private readonly hdr = new VirtioNetHdrView();
  private readonly lens = new Uint32Array(1024);
  /** Output memory: reset per batch when frames are lent, else fresh (never reused). */
  private arena = new Uint8Array(0);
  private arenaOff = 0;

  constructor(
    /** Bytes before the IP header: 14 for TAP (Ethernet), 0 for TUN. */
    private readonly l3Off: number,
  ) {}

  /**
   * The frames of a batch as a receiver without offloads wants them. `meta` holds frame i's header at
   * `12 i`. With `lent`, output memory is reused by the next batch (the receiver copies what it
   * keeps); otherwise every output frame is fresh memory. Returns `frames` itself when no frame
   * needed splitting or dropping.
   */
  normalize(frames: readonly Uint8Array[], meta: Uint8Array, lent: boolean): readonly Uint8Array[] {
    const n = frames.length;
    let out: Uint8Array[] | null = null;
    if (lent) this.arenaOff = 0;
    const h = this.hdr;
    for (let i = 0; i < n; i++) {
      const f = frames[i];
      const bad = h.parseFrom(meta, i * VNET_HDR_LEN, VNET_HDR_LEN) ?? h.checkFrame(f.length);
      const t = bad === null ? h.gsoType : -1;
      if (t === VnetGso.None) {
        if (h.needsCsum) {
          completeChecksum(f, 0, f.length, h.csumStart, h.csumOffset);
          this.stats.checksums++;
        }
        if (out !== null) out.push(f);
        continue;
      }
      if (out === null) out = frames.slice(0, i);
      if (t !== VnetGso.TcpV4 && t !== VnetGso.TcpV6 && t !== VnetGso.UdpL4) {
        this.stats.dropped++;
        continue;
      }
      // Room for the worst case: headers of up to hdrLen (or the frame) per segment.
      const gso = h.gsoSize;
      const space = segmentSpace(Math.min(f.length, 14 + 60 + 60 + 60), f.length, gso);
      const count = Math.ceil(f.length / gso);
      if (count > this.lens.length) {
        this.stats.dropped++;
        continue;
      }
      if (this.arena.length - this.arenaOff < space) {
        this.arena = new Uint8Array(Math.max(lent ? 4 * MIB : MIB, space));
        this.arenaOff = 0;
      }
      const r = segment(f, 0, f.length, this.l3Off, t, gso, this.arena, this.arenaOff, this.lens);
      if (typeof r !== "number") {
        this.stats.dropped++;
        continue;
      }
      this.stats.superFrames++;
      this.stats.segments += r;
      if (f.length > this.stats.largest) this.stats.largest = f.length;
      let o = this.arenaOff;
      for (let k = 0; k < r; k++) {
        const len = this.lens[k];
        out.push(this.arena.subarray(o, o + len));
        o += (len + 7) & ~7;
      }
      this.arenaOff = o;
    }
    return out ?? frames;
  }
}
