/**
 * One TCP connection: the RFC 9293 state machine (section 3.10 "Event Processing"), with
 * RFC 6298 retransmission timing, RFC 5681 congestion control with the loss recovery of
 * recovery.ts (RACK-TLP RFC 8985, PRR RFC 6937, RFC 6675 / 6582, undo RFC 3708 / 4015, F-RTO RFC
 * 5682), RFC 7323 window scaling, timestamps and PAWS, RFC 2018 SACK and RFC 2883 D-SACK,
 * RFC 5961 blind-attack defences, RFC 1122 / 9293 delayed ACKs (with quick ACKs at the start),
 * Nagle, keepalive, persist and silly window avoidance.
 *
 * The variables are in tcb.ts, the send side in sender.ts (this class extends both).
 *
 * A connection never touches the network or the clock itself: it calls its `ConnHost` (the
 * `TcpLayer`) to transmit a segment (the payload is a range of its send buffer, copied once into
 * the outgoing packet), to (re)schedule its single timer and to emit events. All the connection's
 * timers (retransmission, persist, delayed ACK, keepalive, TIME-WAIT / FIN-WAIT-2) are deadlines
 * here, multiplexed onto one `Timer` in the core queue at their minimum. The retransmission
 * deadline is one of three kinds (as Linux's): the RTO, the tail loss probe, or RACK's reordering
 * timer; the probe and the reordering timer never back the RTO off.
 */
import type { ErrorCode } from "../../context.ts";
import { TcpFlags, type TcpView } from "../../wire/tcp.ts";
import type { TcpOptions } from "../../wire/tcp-options.ts";
import { CaState } from "./recovery.ts";
import { timestampRtt } from "./rtt.ts";
import { TcpSender } from "./sender.ts";
import { inWindow, seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from "./seqnum.ts";
import { MAX_WSCALE, TcpState, Xmit } from "./tcb.ts";

export {
  COUNTER_NAMES,
  type ConnHost,
  type ConnInit,
  type CounterName,
  DEFAULT_MSS_V4,
  DEFAULT_MSS_V6,
  TCP_STATE_NAMES,
  type TcpAddrAny,
  TcpState,
} from "./tcb.ts";

/** RFC 7323 5.5: TS.Recent older than 24 days is invalid (PAWS must not reject on it). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/**
 * Switches for tests and benchmarks: `headerPrediction` off sends every segment down the general
 * path (the fast path must not change what goes on the wire); `predicted` counts fast-path hits.
 */
export const tcpTuning = { headerPrediction: true, predicted: 0 };

/** Flags header prediction looks at: only ACK (PSH aside) may be set. */
const PREDICT_MASK = TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST | TcpFlags.ACK | TcpFlags.URG;
/** Bytes the timestamps option takes in every segment (NOP NOP TS). */
const TS_OPT_LEN = 12;

export class TcpConnection extends TcpSender {
  // ================= application calls =================

  /** Append data to the send buffer. Returns the bytes accepted. */
  write(data: Uint8Array, off: number, len: number): number {
    const n = this.sendBuf.write(data, off, len);
    if (n < len) this.wantWritable = true;
    if (n > 0 && this.synchronized) this.output(this.host.now());
    return n;
  }

  /** The application read: maybe send a window update (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3). */
  afterRead(): void {
    this.readNotified = false;
    if (!this.synchronized || this.state === TcpState.TimeWait || this.peerFin) return;
    const cur = Math.max(0, seqSub(this.rcvAdv, this.rcvNxt));
    const win = this.receiveWindow();
    // Like Linux's tcp_cleanup_rbuf: announce when the window at least doubled by a useful amount.
    if (win - cur >= Math.min(this.recvBuf.capacity >>> 1, this.smss) && win >= 2 * cur) {
      this.host.count("window-update");
      this.ackNow = true;
      this.output(this.host.now());
    }
  }

  /** Shut the sending side (RFC 9293 3.10.4 CLOSE on the sending half). */
  shutdown(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case TcpState.SynSent:
        // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB.
        this.finish(null);
        return;
      case TcpState.SynRcvd:
      case TcpState.Established:
        this.finQueued = true;
        if (this.state === TcpState.Established) this.state = TcpState.FinWait1;
        break;
      case TcpState.CloseWait:
        this.finQueued = true;
        this.state = TcpState.LastAck;
        break;
      default:
        return;
    }
    this.output(this.host.now());
  }

  /** Send a RST if synchronized and drop everything (RFC 9293 3.10.5 ABORT). */
  abort(error: ErrorCode | null): void {
    if (this.state === TcpState.Closed) return;
    if (
      this.state === TcpState.SynRcvd ||
      this.state === TcpState.Established ||
      this.state === TcpState.FinWait1 ||
      this.state === TcpState.FinWait2 ||
      this.state === TcpState.CloseWait
    ) {
      // RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>.
      this.host.transmit(this, this.sndNxt, TcpFlags.RST | TcpFlags.ACK, 0, 0, false);
    }
    this.finish(error);
  }

  // ================= opening =================

  /** Active open: send the SYN (RFC 9293 3.10.1). */
  connect(now: number): void {
    this.state = TcpState.SynSent;
    this.sendSyn(now);
  }

  /** Passive open from a listener: the peer's SYN (already parsed into `opts`) is in `seg`. */
  acceptSyn(seg: TcpView, opts: TcpOptions, now: number): void {
    this.passive = true;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.applySynOptions(opts, now);
    // RFC 7323 2.2: the window field of a SYN is never scaled.
    this.setSendWindow(seg.window, seg.seq, 0);
    this.sndWl2 = this.iss;
    this.state = TcpState.SynRcvd;
    this.sendSyn(now);
  }

  /**
   * A connection created from a valid SYN cookie (RFC 4987 3.6): ESTABLISHED at once, with the
   * options the cookie kept. `seg` is the completing ACK.
   */
  acceptCookie(seg: TcpView, opts: TcpOptions, mss: number, wscale: number, sackOk: boolean, now: number): void {
    this.passive = true;
    this.irs = seqAdd(seg.seq, -1);
    this.rcvNxt = seg.seq;
    this.rcvAdv = this.rcvNxt;
    this.sndUna = seqAdd(this.iss, 1);
    this.sndNxt = this.sndUna;
    this.peerMss = mss;
    this.tsOk = opts.hasTs && this.host.config.timestamps;
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    this.wsOk = this.tsOk && wscale >= 0 && this.rcvWscaleOffer >= 0;
    this.sndWscale = this.wsOk ? Math.min(wscale, MAX_WSCALE) : 0;
    this.rcvWscale = this.wsOk ? this.rcvWscaleOffer : 0;
    this.sackOk = this.tsOk && sackOk && this.host.config.sack;
    this.updateMss();
    this.setSendWindow(seg.window << this.sndWscale, seg.seq, seg.ack);
    this.state = TcpState.Established;
    this.quickAcks = this.host.config.quickAcks;
    this.lastRecvAt = now;
    this.armKeepalive(now);
  }

  private applySynOptions(opts: TcpOptions, now: number): void {
    const cfg = this.host.config;
    this.synOpts.mss = opts.mss;
    this.synOpts.wscale = opts.wscale;
    this.synOpts.sack = opts.sackPermitted;
    this.synOpts.ts = opts.hasTs;
    if (opts.mss > 0) this.peerMss = opts.mss;
    // RFC 7323 2.2: scaling is in effect only when both SYNs carried the option.
    this.wsOk = cfg.windowScaling && opts.wscale >= 0 && this.rcvWscaleOffer >= 0;
    // RFC 7323 2.3: a shift above 14 is used as 14.
    this.sndWscale = this.wsOk ? Math.min(opts.wscale, MAX_WSCALE) : 0;
    this.rcvWscale = this.wsOk ? this.rcvWscaleOffer : 0;
    // RFC 7323 3.2: timestamps only when the SYN carried them.
    this.tsOk = cfg.timestamps && opts.hasTs;
    if (this.tsOk) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 2018 2: SACK only when both SYNs offered it.
    this.sackOk = cfg.sack && opts.sackPermitted;
    this.updateMss();
  }

  /** SMSS: the smaller MSS, less the option bytes every segment carries (RFC 6691). */
  updateMss(): void {
    let m = Math.min(this.ourMss, this.peerMss);
    if (this.tsOk) m -= TS_OPT_LEN;
    if (m < 64) m = 64;
    this.smss = m;
    this.cc.setMss(m);
  }

  // ================= segment arrival (RFC 9293 3.10.7) =================

  /** A segment for this connection. `opts` holds its parsed options. */
  input(seg: TcpView, opts: TcpOptions, now: number): void {
    if (this.state === TcpState.Established && tcpTuning.headerPrediction && this.predicted(seg, opts, now)) {
      tcpTuning.predicted++;
      this.output(now);
      return;
    }
    if (this.state === TcpState.SynSent) {
      this.inputSynSent(seg, opts, now);
    } else if (this.inputSynchronized(seg, opts, now) && this.state !== TcpState.Closed) {
      this.output(now);
    }
    if (this.state !== TcpState.Closed) this.updateTimer();
  }

  /**
   * Header prediction (Van Jacobson's fast path, RFC 1323 / RFC 7323 appendix, Linux's
   * tcp_rcv_established): in ESTABLISHED, a segment at RCV.NXT with only ACK (and PSH) set, the
   * window unchanged, no SACK blocks, a timestamp that passes PAWS, and nothing unusual on our side
   * (no recovery, no rewind, no holes) is either a pure ACK of new data or in-order data that
   * acknowledges nothing new. Every check of the general path (3.10.7.4) is then known to pass, so
   * those are done directly. False: not predicted, nothing changed; take the general path.
   */
  private predicted(seg: TcpView, opts: TcpOptions, now: number): boolean {
    if ((seg.flags & PREDICT_MASK) !== TcpFlags.ACK || seg.seq !== this.rcvNxt) return false;
    if (opts.sackCount !== 0 || this.rec.state !== CaState.Open) return false;
    if (seg.window << this.sndWscale !== this.sndWnd) return false;
    const ack = seg.ack;
    // RFC 7323 5.3 R1: PAWS passes (TS.Recent is then updated: the segment is at RCV.NXT).
    if (this.tsOk) {
      if (!opts.hasTs || seqLt(opts.tsVal, this.tsRecent)) return false;
    }
    const plen = seg.payloadLen;
    if (plen === 0) {
      // A pure ACK of new data (not beyond SND.NXT).
      if (!seqGt(ack, this.sndUna) || seqGt(ack, this.sndNxt)) return false;
      this.predictedCommon(seg, opts, now);
      this.ackOf(opts, ack, false, true, now);
      if (this.state !== TcpState.Established) return true;
    } else {
      // In-order data within the window that acknowledges nothing new.
      if (ack !== this.sndUna || this.recvBuf.rangeCount !== 0 || this.peerFinPending || this.userClosed) return false;
      if (plen > seqSub(this.rcvAdv, this.rcvNxt)) return false;
      this.predictedCommon(seg, opts, now);
      this.receiveData(seg, now);
    }
    return true;
  }

  /** What every predicted segment does: liveness, TS.Recent, SND.WL1/WL2. */
  private predictedCommon(seg: TcpView, opts: TcpOptions, now: number): void {
    this.lastRecvAt = now;
    this.kaProbes = 0;
    // RFC 7323 4.3: the segment is at RCV.NXT, which covers Last.ACK.sent.
    if (this.tsOk && seqLe(seg.seq, this.lastAckSent)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }
    // RFC 9293 3.10.7.4: the window is unchanged; SND.WL1/WL2 move when the segment is newer.
    const seq = seg.seq;
    if (seqLt(this.sndWl1, seq) || (this.sndWl1 === seq && seqLe(this.sndWl2, seg.ack))) {
      this.sndWl1 = seq;
      this.sndWl2 = seg.ack;
    }
  }

  /** RFC 9293 3.10.7.3: SYN-SENT. */
  private inputSynSent(seg: TcpView, opts: TcpOptions, now: number): void {
    const f = seg.flags;
    const hasAck = (f & TcpFlags.ACK) !== 0;
    // First: check the ACK bit.
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndNxt))) {
      // RFC 9293 3.10.7.3: unacceptable ACK: <SEQ=SEG.ACK><CTL=RST> unless RST is set.
      if ((f & TcpFlags.RST) === 0) this.host.transmit(this, seg.ack, TcpFlags.RST, 0, 0, false);
      return;
    }
    // Second: the RST bit. RFC 5961 3.2 / RFC 9293: only with an acceptable ACK.
    if (f & TcpFlags.RST) {
      if (hasAck) {
        this.host.count("rst-received");
        this.finish("ECONNREFUSED");
      }
      return;
    }
    // Fourth: the SYN bit.
    if ((f & TcpFlags.SYN) === 0) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.applySynOptions(opts, now);
    this.lastRecvAt = now;
    if (hasAck) {
      this.sndUna = seg.ack;
      this.takeSynRtt(opts, now);
      // RFC 7323 2.2: the SYN-ACK's window is not scaled.
      this.setSendWindow(seg.window, seg.seq, seg.ack);
      this.state = TcpState.Established;
      this.quickAcks = this.host.config.quickAcks;
      this.retries = 0;
      this.rtoAt = Infinity;
      this.ackNow = true;
      this.armKeepalive(now);
      this.host.emitConnected(this);
      this.output(now);
    } else {
      // RFC 9293 3.10.7.3: simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
      this.setSendWindow(seg.window, seg.seq, this.iss);
      this.state = TcpState.SynRcvd;
      this.sndNxt = this.iss;
      this.sendSyn(now);
    }
  }

  private takeSynRtt(opts: TcpOptions, now: number): void {
    let sample = -1;
    if (this.tsOk && opts.hasTs) sample = timestampRtt(this.host.tsNow(), opts.tsEcr);
    else sample = this.rttTimer.onAck(this.sndUna, now);
    if (sample >= 0) this.rtt.sample(sample);
    // RFC 6298 5.7: a retransmitted SYN without a sample leaves an RTO of 3 s for data.
    else if (this.synRetransmitted && !this.rtt.hasSample) this.rtt.resetTo(3000);
    this.rtt.resetBackoff();
  }

  /** RFC 9293 3.10.7.4: every state after SYN-SENT. Returns true when output should run. */
  private inputSynchronized(seg: TcpView, opts: TcpOptions, now: number): boolean {
    const f = seg.flags;
    const seq = seg.seq;
    const segLen = seg.payloadLen + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);

    // Simultaneous open: in SYN-RECEIVED (from SYN-SENT) the peer's SYN-ACK acknowledging our SYN
    // completes the handshake (as Linux's tcp_validate_incoming allows); ACK it.
    if (
      this.state === TcpState.SynRcvd &&
      !this.passive &&
      (f & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === (TcpFlags.SYN | TcpFlags.ACK) &&
      seqAdd(seq, 1) === this.rcvNxt &&
      seg.ack === this.sndNxt
    ) {
      this.establish(seg, opts, now);
      this.ackNow = true;
      return true;
    }
    // RFC 7323 5.3 R1: PAWS, before the sequence number check.
    if (this.tsOk && opts.hasTs && (f & TcpFlags.RST) === 0) {
      if (seqLt(opts.tsVal, this.tsRecent) && now - this.tsRecentAt < PAWS_IDLE_MS && !this.disorderedAck(seg, opts)) {
        this.host.count("paws-drop");
        this.pawsSack(seg, opts, now);
        // RFC 7323 5.3 R1: not acceptable: ACK (rate limited) and drop; RFC 2883: data already
        // received (a spurious retransmission overtaken by the original) is reported in a D-SACK.
        if (!this.unacceptableAckAllowed(segLen, f, now)) return false;
        this.ackNow = true;
        const plen = seg.payloadLen;
        if (plen > 0 && seqLt(seq, this.rcvNxt)) {
          const end = seqAdd(seq, plen);
          this.noteDsack(seq, seqLt(end, this.rcvNxt) ? end : this.rcvNxt);
        }
        return true;
      }
    }

    // First: the sequence number (RFC 9293 3.10.7.4's acceptability table).
    let rcvWnd = seqSub(this.rcvAdv, this.rcvNxt);
    if (rcvWnd < 0) rcvWnd = 0;
    let ok: boolean;
    if (segLen === 0) {
      ok = rcvWnd === 0 ? seq === this.rcvNxt : inWindow(seq, this.rcvNxt, rcvWnd);
    } else {
      ok = rcvWnd > 0 && (inWindow(seq, this.rcvNxt, rcvWnd) || inWindow(seqAdd(seq, segLen - 1), this.rcvNxt, rcvWnd));
    }
    // A zero-window receiver still processes ACK and RST of a segment at RCV.NXT (RFC 9293 3.10.7.4
    // "special allowance"), and a data segment entirely below RCV.NXT is a duplicate.
    if (!ok && rcvWnd === 0 && seq === this.rcvNxt) ok = (f & TcpFlags.ACK) !== 0 || (f & TcpFlags.RST) !== 0;
    if (!ok) {
      // RFC 9293 3.10.7.4: unacceptable: send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> unless RST; drop.
      this.host.count("out-of-window");
      if ((f & TcpFlags.RST) === 0) {
        // Rate limited (RFC 5961 10): per connection for segments carrying nothing, so two ends
        // that disagree cannot ping-pong ACKs, and with the challenge ACKs, so a flood of blind
        // out-of-window segments is not reflected one for one at the real peer.
        if (!this.unacceptableAckAllowed(segLen, f, now)) return false;
        this.ackNow = true;
        // RFC 2883 4: data entirely below RCV.NXT was received twice: a D-SACK block reports it.
        const plen = seg.payloadLen;
        if (plen > 0 && this.synchronized && seqLe(seqAdd(seq, plen), this.rcvNxt))
          this.noteDsack(seq, seqAdd(seq, plen));
        if (this.state === TcpState.TimeWait) this.sendAck();
        return this.state !== TcpState.TimeWait;
      }
      return false;
    }
    const dataAllowed = rcvWnd > 0 || segLen === 0;

    // Second: the RST bit (RFC 5961 3.2).
    if (f & TcpFlags.RST) {
      if (seq !== this.rcvNxt) {
        // RFC 5961 3.2: in the window but not exactly at RCV.NXT: challenge ACK.
        this.challengeAck();
        return false;
      }
      this.host.count("rst-received");
      switch (this.state) {
        case TcpState.SynRcvd:
          // RFC 9293: from a passive open, back to LISTEN (the half-open connection goes);
          // from an active one, the connection is refused.
          this.finish(this.passive ? null : "ECONNREFUSED");
          return false;
        case TcpState.Established:
        case TcpState.FinWait1:
        case TcpState.FinWait2:
        case TcpState.CloseWait:
          this.finish("ECONNRESET");
          return false;
        default:
          // CLOSING, LAST-ACK, TIME-WAIT: enter CLOSED quietly.
          this.finish(null);
          return false;
      }
    }

    // Fourth: the SYN bit. RFC 5961 4.2 / RFC 9293: a SYN in a synchronized state (or in
    // SYN-RECEIVED) gets a challenge ACK and is dropped.
    if (f & TcpFlags.SYN) {
      if (this.state === TcpState.SynRcvd && this.passive && seq === this.irs) {
        // A retransmitted SYN of this very connection: answer with the SYN-ACK again.
        this.sendSyn(now);
        return false;
      }
      this.host.count("syn-on-synchronized");
      this.challengeAck();
      return false;
    }

    // Fifth: the ACK field.
    if ((f & TcpFlags.ACK) === 0) return false;
    this.lastRecvAt = now;
    this.kaProbes = 0;
    if (this.state === TcpState.SynRcvd) {
      if (seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndNxt)) {
        if (this.passive && !this.host.established(this)) return false; // backlog full: stay, peer retries
        this.establish(seg, opts, now);
      } else {
        // RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>.
        this.host.transmit(this, seg.ack, TcpFlags.RST, 0, 0, false);
        return false;
      }
    }

    // RFC 7323 4.3: update TS.Recent when the segment covers Last.ACK.sent.
    if (this.tsOk && opts.hasTs && seqGe(opts.tsVal, this.tsRecent) && seqLe(seq, this.lastAckSent)) {
      this.tsRecent = opts.tsVal;
      this.tsRecentAt = now;
    }

    if (!this.processAck(seg, opts, now)) return true;
    if (this.state === TcpState.Closed) return false;

    // Seventh: the segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2).
    const plen = seg.payloadLen;
    if (plen > 0 && dataAllowed) {
      if (this.state === TcpState.Established || this.state === TcpState.FinWait1 || this.state === TcpState.FinWait2) {
        if (this.userClosed) {
          // RFC 9293 3.10.7.4 / RFC 2525 2.17: data for a closed socket: reset the connection.
          this.abort(null);
          return false;
        }
        this.receiveData(seg, now);
      }
    } else if (plen > 0) {
      this.ackNow = true;
    }

    // Eighth: the FIN bit.
    if (f & TcpFlags.FIN) {
      const fseq = seqAdd(seq, plen);
      if (fseq === this.rcvNxt) {
        this.receiveFin(now);
      } else if (seqGt(fseq, this.rcvNxt) && seqLe(fseq, this.rcvAdv)) {
        // Out of order: remember it until the data before it arrives.
        this.peerFinSeq = fseq;
        this.peerFinPending = true;
        this.ackNow = true;
      }
    }
    return true;
  }

  /**
   * Linux's tcp_disordered_ack: a duplicate ACK that only arrived after a later one (reordered on
   * the path) fails PAWS on its older timestamp, yet carries SACK information the sender needs: a
   * pure ACK at RCV.NXT, of SND.UNA, that would not update the window, with a timestamp within one
   * RTO of TS.Recent, is let through.
   */
  private disorderedAck(seg: TcpView, opts: TcpOptions): boolean {
    const seq = seg.seq;
    if (seg.payloadLen !== 0 || (seg.flags & (TcpFlags.SYN | TcpFlags.FIN)) !== 0) return false;
    if (seq !== this.rcvNxt || seg.ack !== this.sndUna) return false;
    // RFC 9293 3.10.7.4's window update test would not pass.
    if (seqGt(seq, this.sndWl1) || (seq === this.sndWl1 && seg.window << this.sndWscale > this.sndWnd)) return false;
    return seqSub(this.tsRecent, opts.tsVal) <= this.rtt.rto;
  }

  /**
   * The SACK blocks of a pure ACK that failed PAWS only because it was overtaken on the path by a
   * later one (its timestamp is within one RTO of TS.Recent, its ACK within the window): the
   * segment is still dropped (RFC 7323 5.3 R1), but what it says about the segments in flight
   * (SACKs, D-SACKs) is taken. The scoreboard accepts only blocks inside [SND.UNA, SND.NXT].
   */
  private pawsSack(seg: TcpView, opts: TcpOptions, now: number): void {
    if (!this.sackOk || opts.sackCount === 0 || seg.payloadLen !== 0 || this.flight === 0) return;
    if ((seg.flags & (TcpFlags.SYN | TcpFlags.FIN | TcpFlags.RST)) !== 0 || (seg.flags & TcpFlags.ACK) === 0) return;
    if (seqGt(seg.ack, this.sndNxt) || seqLt(seg.ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) return;
    if (seqSub(this.tsRecent, opts.tsVal) > this.rtt.rto) return;
    this.ackOf(opts, seg.ack, false, false, now);
  }

  /** SYN-RECEIVED -> ESTABLISHED on an acceptable ACK. */
  private establish(seg: TcpView, opts: TcpOptions, now: number): void {
    this.state = TcpState.Established;
    this.quickAcks = this.host.config.quickAcks;
    this.sndUna = seg.ack;
    this.takeSynRtt(opts, now);
    this.retries = 0;
    this.rtoAt = Infinity;
    this.synRetransmitted = false;
    this.setSendWindow(seg.window << this.sndWscale, seg.seq, seg.ack);
    this.armKeepalive(now);
    this.lastRecvAt = now;
    if (!this.passive) this.host.emitConnected(this);
    if (this.finQueued) this.state = TcpState.FinWait1;
  }

  /**
   * May an ACK answer this unacceptable segment (out of window, PAWS, an ACK of unsent or too old
   * data)? Like Linux's tcp_oow_rate_limited: a segment that carries nothing (no data, no FIN) or a
   * SYN gets at most one answer per `invalidAckRatelimitMs` on this connection (an ACK answering an
   * ACK is how two desynchronized ends loop forever); every answer also takes from the layer-wide
   * challenge ACK budget (RFC 5961 7).
   */
  private unacceptableAckAllowed(segLen: number, flags: number, now: number): boolean {
    const perConn = segLen === 0 || (flags & TcpFlags.SYN) !== 0;
    if (perConn && now - this.lastInvalidAckAt < this.host.config.invalidAckRatelimitMs) {
      this.host.count("challenge-ack-limited");
      return false;
    }
    if (!this.host.challengeAckAllowed()) {
      this.host.count("challenge-ack-limited");
      return false;
    }
    if (perConn) this.lastInvalidAckAt = now;
    return true;
  }

  /** RFC 5961 7: a rate-limited challenge ACK. */
  private challengeAck(): void {
    if (this.host.challengeAckAllowed()) {
      this.host.count("challenge-ack");
      this.sendAck();
    } else {
      this.host.count("challenge-ack-limited");
    }
  }

  private setSendWindow(wnd: number, seq: number, ack: number): void {
    this.sndWnd = wnd;
    this.sndWl1 = seq;
    this.sndWl2 = ack;
    if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
  }

  /** RFC 9293 3.10.7.4 "fifth, check the ACK field" for synchronized states. False: drop the segment. */
  private processAck(seg: TcpView, opts: TcpOptions, now: number): boolean {
    const ack = seg.ack;
    // RFC 5961 5.2 / RFC 9293: an ACK of something not yet sent: send an ACK, drop the segment.
    if (seqGt(ack, this.sndNxt)) {
      this.host.count("ack-unsent");
      if (this.unacceptableAckAllowed(seg.payloadLen + (seg.flags & TcpFlags.FIN ? 1 : 0), seg.flags, now)) {
        this.ackNow = true;
      }
      return false;
    }
    // RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND is dropped with an ACK.
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.host.count("ack-unsent");
      if (this.unacceptableAckAllowed(seg.payloadLen + (seg.flags & TcpFlags.FIN ? 1 : 0), seg.flags, now)) {
        this.ackNow = true;
      }
      return false;
    }
    // RFC 7323 2.3: the window field scaled by the peer's shift (at most 14: below 2^30).
    const wnd = seg.window << this.sndWscale;
    // An ACK below SND.UNA (overtaken on the path) still brings its SACK blocks (as Linux's tcp_ack).
    if (this.flight > 0 && (seqGe(ack, this.sndUna) || (this.sackOk && opts.sackCount > 0))) {
      // RFC 5681 2: a duplicate ACK carries no data, no SYN/FIN, and does not move SND.UNA.
      const dup = ack === this.sndUna && seg.payloadLen === 0 && (seg.flags & (TcpFlags.SYN | TcpFlags.FIN)) === 0;
      this.ackOf(opts, ack, dup, wnd === this.sndWnd, now);
      if (this.state === TcpState.Closed) return true;
    }

    // RFC 9293 3.10.7.4: update the send window when the segment is newer.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      const opened = this.sndWnd === 0 && wnd > 0;
      this.setSendWindow(wnd, seg.seq, ack);
      if (opened) {
        this.persistAt = Infinity;
        this.persistBackoff = 0;
      }
    }
    return true;
  }

  /** Data in the segment (RFC 9293 3.10.7.4 seventh; RFC 5681 4.2 ACK generation). */
  private receiveData(seg: TcpView, now: number): void {
    const off = seqSub(seg.seq, this.rcvNxt);
    const buf = this.recvBuf;
    const hadHoles = buf.rangeCount > 0;
    const plen = seg.payloadLen;
    const dropped = buf.dropped;
    const adv = buf.insert(off, seg.bytes, seg.payloadOff, plen);
    if (adv > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, adv);
      if (!this.readNotified) {
        this.readNotified = true;
        this.host.emitReadable(this);
      }
    }
    if (off > 0) {
      this.host.count("ooo-segment");
      if (buf.dropped !== dropped) this.host.count("ooo-drop");
    }
    // RFC 2883 4: bytes received twice: the next ACK leads with a D-SACK block for them.
    if (buf.dup) this.noteDsack(buf.dupLeft(this.rcvNxt), buf.dupRight(this.rcvNxt));
    // RFC 5681 4.2: ACK out-of-order segments and segments filling a hole at once; RFC 9293
    // 3.8.6.3: ACK at least every second full-sized segment; otherwise delay the ACK. Quick ACKs:
    // the first full-sized segments of a connection are ACKed at once (Linux's quick ACK mode), so
    // the peer's slow start is not held back by the delayed-ACK timer (a small one, a request
    // most likely, keeps its delayed ACK: the answer carries it).
    if (off !== 0 || hadHoles || adv < plen) {
      this.ackNow = true;
    } else if (this.quickAcks > 0 && plen >= this.smss) {
      this.quickAcks--;
      this.ackNow = true;
    } else {
      this.unackedSegs += plen >= this.smss ? 1 : 0.5;
      const cfg = this.host.config;
      if (this.unackedSegs < 2 && cfg.delayedAckMs !== 0) {
        if (!this.ackDelayed) {
          this.ackDelayed = true;
          this.delackAt = now + cfg.delayedAckMs;
        }
      } else if (
        cfg.delayedAckMs === 0 ||
        seqSub(this.rcvNxt, this.lastAckSent) >= cfg.batchAckBytes ||
        !this.host.deferAck(this)
      ) {
        this.ackNow = true;
      } else if (!this.ackDelayed) {
        // RFC 9293 3.8.6.3 / RFC 5681 4.2: inside a receive batch the ACK every second full-sized
        // segment asks for becomes one cumulative ACK at the batch's end (a stretch ACK, as Linux
        // sends after GRO), at most `batchAckBytes` behind. The delayed-ACK timer stays armed as a
        // bound should the batch never be closed.
        this.ackDelayed = true;
        this.delackAt = now + cfg.delayedAckMs;
      }
    }
    if (this.peerFinPending && this.rcvNxt === this.peerFinSeq) this.receiveFin(now);
  }

  /** Report [l, r) in a D-SACK block on the next ACK (RFC 2883), sent at once. */
  private noteDsack(l: number, r: number): void {
    if (!this.sackOk || !this.host.config.dsack) return;
    this.dsackPending = true;
    this.dsackLeft = l;
    this.dsackRight = r;
    this.ackNow = true;
  }

  /**
   * The SACK blocks of an outgoing ACK into `out` (at most `max`): a pending D-SACK block first
   * (RFC 2883 4), then the out-of-order data, most recent first (RFC 2018 4). Returns the count.
   */
  sackBlocks(out: Uint32Array, max: number): number {
    let k = 0;
    if (this.dsackPending) {
      this.dsackPending = false;
      out[0] = this.dsackLeft;
      out[1] = this.dsackRight;
      k = 1;
      this.host.count("dsack-sent");
    }
    if (k < max && this.recvBuf.rangeCount > 0) k += this.recvBuf.sackBlocks(this.rcvNxt, out, max - k, k);
    return k;
  }

  /** RFC 9293 3.10.7.4 eighth: the FIN. */
  private receiveFin(now: number): void {
    if (this.peerFin) {
      // A retransmitted FIN: just ACK it (TIME-WAIT restarts its timer below).
      this.ackNow = true;
      if (this.state === TcpState.TimeWait) {
        this.closeAt = now + this.host.config.timeWaitMs;
        this.sendAck();
      }
      return;
    }
    this.peerFin = true;
    this.peerFinPending = false;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    this.host.emitReadable(this);
    this.readNotified = true;
    switch (this.state) {
      case TcpState.SynRcvd:
      case TcpState.Established:
        this.state = TcpState.CloseWait;
        if (!this.allowHalfOpen) this.shutdown();
        break;
      case TcpState.FinWait1:
        if (this.finAcked) this.enterTimeWait(now);
        else this.state = TcpState.Closing;
        break;
      case TcpState.FinWait2:
        this.enterTimeWait(now);
        break;
    }
  }

  protected enterTimeWait(now: number): void {
    this.state = TcpState.TimeWait;
    this.rtoAt = Infinity;
    this.persistAt = Infinity;
    this.kaAt = Infinity;
    this.delackAt = Infinity;
    // RFC 9293 3.6.1: TIME-WAIT lasts 2 MSL.
    this.closeAt = now + this.host.config.timeWaitMs;
    if (this.ackNow) this.sendAck();
    this.host.finished(this, null);
  }

  /** RFC 6191 (via the layer): a new SYN may reuse the 4-tuple of this TIME-WAIT connection. */
  timeWaitAcceptsSyn(seg: TcpView, opts: TcpOptions): boolean {
    // RFC 6191 2: with timestamps, the SYN's TSval must be greater than TS.Recent; without, its
    // sequence number must be greater than RCV.NXT (RFC 1122 4.2.2.13).
    if (this.tsOk && opts.hasTs) return seqGt(opts.tsVal, this.tsRecent);
    return seqGt(seg.seq, this.rcvNxt);
  }

  /** The connection's timer fired. */
  onTimer(now: number): void {
    this.timerAt = Infinity;
    if (this.closeAt <= now) {
      this.closeAt = Infinity;
      if (this.state === TcpState.TimeWait) {
        this.state = TcpState.Closed;
        this.host.remove(this);
        return;
      }
      // FIN-WAIT-2 of an orphaned connection.
      this.finish(null);
      return;
    }
    if (this.rtoAt <= now) {
      this.rtoAt = Infinity;
      if (this.xmitKind === Xmit.Probe) this.onProbeTimeout(now);
      else if (this.xmitKind === Xmit.Reorder) this.onReorderTimeout(now);
      else this.onRetransmitTimeout(now);
      if (this.state === TcpState.Closed) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = Infinity;
      this.onPersist(now);
    }
    if (this.delackAt <= now) {
      this.delackAt = Infinity;
      if (this.ackDelayed) {
        this.host.count("delayed-ack");
        this.ackNow = true;
        this.output(now);
      }
    }
    if (this.kaAt <= now) {
      this.kaAt = Infinity;
      this.onKeepalive(now);
      if (this.state === TcpState.Closed) return;
    }
    this.updateTimer();
  }

  // ================= ICMP =================

  /**
   * An ICMP error quoting a segment with sequence number `seq` (RFC 5927 validation: it must be in
   * [SND.UNA, SND.MAX]). `mtu` > 0: fragmentation needed / packet too big (RFC 1191, RFC 8201).
   */
  icmpError(code: ErrorCode, mtu: number, seq: number, now: number): boolean {
    if (seqLt(seq, this.sndUna) || seqGt(seq, this.sndNxt)) return false;
    if (mtu > 0) {
      const mss = mtu - this.I.headerLen - 20;
      if (mss >= 64 && mss < this.ourMss) {
        this.ourMss = mss;
        this.updateMss();
        // RFC 1191 / 8201: resend what was too big now, not after a timeout (not a congestion signal).
        if (this.synchronized && this.flight > 0) {
          this.rec.resendAll();
          this.rttTimer.onRetransmit();
          this.output(now);
          this.updateTimer();
        }
      }
      return true;
    }
    if (this.state === TcpState.SynSent) {
      // Linux: an unreachable error during the handshake fails the connect.
      this.finish(code);
      return true;
    }
    // RFC 1122 4.2.3.9: soft errors are reported only if the connection later times out.
    this.softError = code;
    return true;
  }

  // ================= teardown =================

  /** Enter CLOSED: cancel timers, tell the layer (which emits `error` / `closed`). */
  finish(error: ErrorCode | null): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    this.error = error;
    this.rtoAt = Infinity;
    this.persistAt = Infinity;
    this.delackAt = Infinity;
    this.kaAt = Infinity;
    this.closeAt = Infinity;
    this.updateTimer();
    this.host.finished(this, error);
    this.host.remove(this);
  }
}
