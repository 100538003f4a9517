/**
 * The send side of a TCP connection: new data within the windows (RFC 9293 3.8.6, RFC 5681, Nagle
 * and sender SWS avoidance), retransmissions of what recovery.ts deems lost, ACK processing for the
 * data in flight, and the retransmission timer in its three kinds (RFC 6298's RTO with F-RTO, RFC
 * 8985's tail loss probe and RACK reordering timer), the persist timer (RFC 9293 3.8.6.1) and
 * keepalive (RFC 1122 4.2.3.6).
 */
import type { ErrorCode } from "../../context.ts";
import { TcpFlags } from "../../wire/tcp.ts";
import type { TcpOptions } from "../../wire/tcp-options.ts";
import { Rack } from "./rack.ts";
import { timestampRtt } from "./rtt.ts";
import { Seg } from "./scoreboard.ts";
import { seqAdd, seqGt, seqLt, seqSub } from "./seqnum.ts";
import { Tcb, TcpState, Xmit } from "./tcb.ts";

export abstract class TcpSender extends Tcb {
  /** Enter CLOSED (connection.ts). */
  abstract finish(error: ErrorCode | null): void;
  /** Enter TIME-WAIT (connection.ts). */
  protected abstract enterTimeWait(now: number): void;

  /**
   * An ACK at or above SND.UNA with data in flight: new data acknowledged (`ackNew`), then what it
   * says about the segments in flight (recovery.ts), then the retransmission timer.
   */
  protected ackOf(opts: TcpOptions, ack: number, dupCandidate: boolean, sameWnd: boolean, now: number): void {
    const prevUna = this.sndUna;
    const flightBefore = seqSub(this.sndNxt, prevUna);
    const advanced = seqGt(ack, prevUna);
    if (advanced) {
      this.ackNew(opts, ack, now);
      if (this.state === TcpState.Closed) return;
    }
    const tsEcr = this.tsOk && opts.hasTs ? opts.tsEcr : -1;
    const sack = this.sackOk ? opts.sackCount : 0;
    this.rec.onAck(prevUna, ack, opts.sack, sack, tsEcr, this.host.tsNow(), dupCandidate, sameWnd, flightBefore, now);
    // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, restart it when new data is; a
    // reordering timer RACK asked for comes first (RFC 8985 6.3).
    if (this.flight === 0) {
      this.rtoAt = Infinity;
    } else if (this.rec.reoTimeout > 0) {
      this.rtoAt = now + this.rec.reoTimeout;
      this.xmitKind = Xmit.Reorder;
      this.rec.reoTimeout = 0;
    } else if (advanced || this.rtoAt === Infinity) {
      this.armRto(now);
    }
  }

  /** SND.UNA < SEG.ACK <= SND.NXT: new data acknowledged. */
  private ackNew(opts: TcpOptions, ack: number, now: number): void {
    let acked = seqSub(ack, this.sndUna);
    const flight = seqSub(this.sndNxt, this.sndUna);
    // RTT: RFC 7323 4 (timestamps) or RFC 6298 3 with Karn's algorithm.
    let sample = -1;
    if (this.tsOk && opts.hasTs) sample = timestampRtt(this.host.tsNow(), opts.tsEcr);
    else sample = this.rttTimer.onAck(ack, now);
    if (sample >= 0) {
      const expected = this.tsOk ? Math.max(1, Math.ceil(flight / (2 * this.smss))) : 1;
      this.rtt.sample(sample, expected);
    }
    this.cc.onAckSample(ack, this.sndNxt, sample, flight);
    // RFC 6298 5.7 (after Karn): new data acknowledged restores the RTO from the estimate.
    this.rtt.resetBackoff();
    this.retries = 0;
    this.rtxStart = 0;
    this.persistBackoff = 0;

    const bufLen = this.sendBuf.length;
    if (acked > bufLen) {
      // The ACK covers our FIN (or SYN's sequence number during the handshake).
      if (this.finQueued) this.finAcked = true;
      this.sendBuf.ack(bufLen);
      acked = bufLen;
    } else {
      this.sendBuf.ack(acked);
    }
    this.sndUna = ack;

    if (this.wantWritable && (this.sendBuf.free >= this.sendBuf.capacity >>> 1 || this.sendBuf.length === 0)) {
      this.wantWritable = false;
      this.host.emitWritable(this);
    }

    if (this.finAcked) {
      switch (this.state) {
        case TcpState.FinWait1:
          this.state = TcpState.FinWait2;
          if (this.userClosed) this.closeAt = now + this.host.config.finWait2Timeout;
          break;
        case TcpState.Closing:
          this.enterTimeWait(now);
          break;
        case TcpState.LastAck:
          this.finish(null);
          break;
      }
    }
  }

  /**
   * Send what the windows allow (segments deemed lost first, then new data), then an ACK if one is
   * still owed; keep the retransmission timer running while data is in flight.
   */
  output(now: number): void {
    const st = this.state;
    if (st === TcpState.Closed || st === TcpState.Listen || st === TcpState.SynSent) return;
    if (st === TcpState.TimeWait) {
      if (this.ackNow) this.sendAck();
      return;
    }
    if (st === TcpState.SynRcvd) {
      // Anything owed in SYN-RECEIVED is answered with the SYN-ACK again (timers unchanged).
      if (this.ackNow) this.host.transmit(this, this.iss, TcpFlags.SYN | TcpFlags.ACK, 0, 0, true);
      return;
    }
    const rec = this.rec;
    let sent = false;
    let retransmit = rec.board.lostBytes > 0 && !rec.holdRetransmit;
    rec.holdRetransmit = false;
    if (rec.frtoNewData) {
      // RFC 5682 3.1 step 2.b: new data rather than the retransmissions the timeout queued.
      rec.frtoNewData = false;
      sent = this.sendNewData(false);
      if (seqGt(this.sndNxt, rec.recoverPoint)) retransmit = false;
      else rec.frto = false;
    }
    if (retransmit) sent = this.retransmitLost(now) || sent;
    const nxt = this.sndNxt;
    sent = this.sendNewData(false) || sent;
    if (!sent && this.ackNow) this.sendAck();
    // RFC 6298 5.1: the retransmission timer runs while data is outstanding; RFC 8985 7.2: new data
    // (re)starts the probe timer in its place. A probe timer already running is left alone (no
    // timer queue update per segment): when it fires it waits out the PTO from the newest segment.
    if (this.flight > 0) {
      if (this.rtoAt === Infinity || (this.sndNxt !== nxt && this.xmitKind === Xmit.Rto && rec.ptoAllowed())) {
        this.armRto(now);
      }
      this.persistAt = Infinity;
    } else if ((this.unsent > 0 || (this.finQueued && !this.finSent)) && this.persistAt === Infinity) {
      // RFC 9293 3.8.6.1: zero window (or data held by SWS avoidance): the persist timer.
      this.persistAt = now + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.host.config.maxRto);
    }
    this.updateTimer();
  }

  /**
   * Arm the retransmission timer (RFC 6298 5.1/5.3), or, while RACK-TLP allows one, the tail loss
   * probe in its place when it comes earlier (RFC 8985 7.2).
   */
  private armRto(now: number): void {
    const rto = now + this.rtt.rto;
    if (this.rec.ptoAllowed()) {
      const rtt = this.rtt;
      const pto = now + Rack.pto(rtt.srtt, rtt.hasSample, this.flight, this.smss, this.host.config.tlpMaxAckDelay);
      if (pto < rto) {
        this.rtoAt = pto;
        this.xmitKind = Xmit.Probe;
        return;
      }
    }
    this.rtoAt = rto;
    this.xmitKind = Xmit.Rto;
  }

  /** Send new data from SND.NXT within the congestion window (less the pipe) and SND.WND. */
  private sendNewData(force: boolean): boolean {
    let sent = false;
    const cc = this.cc;
    const board = this.rec.board;
    for (;;) {
      const flight = seqSub(this.sndNxt, this.sndUna);
      const bufLen = this.sendBuf.length;
      const unsent = bufLen - flight;
      const finToSend = this.finQueued && flight <= bufLen;
      if (unsent <= 0 && !finToSend) break;
      if (unsent > 0) {
        // RFC 6675 5 / RFC 3042: the pipe (bytes in flight by the scoreboard), not FlightSize,
        // against cwnd: SACKed and lost segments left the network.
        const usable = Math.min(cc.cwnd - board.pipe(flight), this.sndWnd - flight);
        let len = Math.min(unsent, usable, this.smss);
        if (len <= 0) {
          if (!force || flight > 0) break;
          len = 1;
        }
        if (len < this.smss && !force) {
          // RFC 9293 3.8.6.2.1 (sender SWS avoidance): a partial segment only when it carries
          // everything queued or at least half the largest window the peer offered.
          if (len < unsent && len < this.maxSndWnd >>> 1) break;
          // RFC 896 / RFC 9293 3.7.4 (Nagle): no small segment while data is unacknowledged.
          if (!this.noDelay && flight > 0) break;
        }
        const fin = finToSend && len === unsent;
        this.sendSegment(this.sndNxt, flight, len, fin, false);
        this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
        force = false;
      } else {
        // Only the FIN remains.
        this.sendSegment(this.sndNxt, flight, 0, true, false);
        this.sndNxt = seqAdd(this.sndNxt, 1);
      }
      sent = true;
    }
    return sent;
  }

  /**
   * Retransmit the segments deemed lost, lowest first, while the pipe stays within cwnd (RFC 6675 5
   * (C) with the window PRR sets; RFC 6582's retransmission of the first one without SACK goes
   * regardless, as RFC 5681 3.2 step 2 asks). Never starts beyond the peer's window, except at
   * SND.UNA.
   */
  private retransmitLost(now: number): boolean {
    const b = this.rec.board;
    const wndEnd = seqAdd(this.sndUna, this.sndWnd);
    let sent = false;
    for (let i = b.nextLost(0); i >= 0; i = b.nextLost(i + 1)) {
      const len = Math.min(seqSub(b.endOf(i), b.seqOf(i)), this.smss);
      const forced = i === 0 && !this.sackOk;
      if (!forced && b.pipe(this.flight) + len > this.cc.cwnd) break;
      if (i > 0 && !seqLt(b.seqOf(i), wndEnd)) break;
      this.retransmitRecord(i, this.smss, now);
      sent = true;
    }
    return sent;
  }

  /**
   * Send scoreboard record `i` again: at most `maxLen` bytes of it (a longer record is split
   * there), with the FIN when it carries it. Returns the sequence space sent.
   */
  private retransmitRecord(i: number, maxLen: number, now: number): number {
    const b = this.rec.board;
    const seq = b.seqOf(i);
    let len = seqSub(b.endOf(i), seq);
    if (len > maxLen) {
      b.split(i, seqAdd(seq, maxLen));
      len = maxLen;
    }
    const off = seqSub(seq, this.sndUna);
    // The record ends with the FIN when it reaches past the data.
    const dataLen = Math.min(len, this.sendBuf.length - off);
    const fin = dataLen < len;
    this.rttTimer.onRetransmit();
    this.host.count("retransmit");
    this.retransmits++;
    b.retransmitted(i, now);
    this.rec.onRetransmit(this.host.tsNow());
    this.rec.sent(len);
    this.sendSegment(seq, off, dataLen, fin, true);
    return len;
  }

  /** One segment with the ACK of RCV.NXT; new data also gets its scoreboard record. */
  private sendSegment(seq: number, off: number, len: number, fin: boolean, rtx: boolean): void {
    let flags = TcpFlags.ACK;
    if (fin) flags |= TcpFlags.FIN;
    if (len > 0 && off + len === this.sendBuf.length) flags |= TcpFlags.PSH;
    if (!rtx) {
      const now = this.host.now();
      if (!this.tsOk && len > 0) this.rttTimer.onSend(seqAdd(seq, len), now);
      const n = len + (fin ? 1 : 0);
      this.rec.board.push(seq, seqAdd(seq, n), now);
      this.rec.sent(n);
    }
    this.host.transmit(this, seq, flags, off, len, false);
  }

  /** A pure ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
  sendAck(): void {
    this.host.transmit(this, this.sndNxt, TcpFlags.ACK, 0, 0, false);
  }

  /** The layer sent a segment carrying an ACK: what was owed is paid, and the window advertised. */
  acked(win: number): void {
    this.ackNow = false;
    this.ackDelayed = false;
    this.unackedSegs = 0;
    this.delackAt = Infinity;
    this.lastAckSent = this.rcvNxt;
    const right = seqAdd(this.rcvNxt, win);
    if (seqGt(right, this.rcvAdv)) this.rcvAdv = right;
  }

  /** RFC 6298 5.4-5.7: the retransmission timer expired. */
  protected onRetransmitTimeout(now: number): void {
    const cfg = this.host.config;
    if (this.state === TcpState.SynSent || this.state === TcpState.SynRcvd) {
      this.host.count("rto");
      const limit = this.state === TcpState.SynSent ? cfg.synRetries : cfg.synAckRetries;
      if (++this.retries > limit) {
        this.finish(this.passive ? null : (this.softError ?? "ETIMEDOUT"));
        return;
      }
      this.synRetransmitted = true;
      this.retransmits++;
      this.rttTimer.onRetransmit();
      this.rtt.backoff();
      this.sndNxt = this.iss;
      this.sendSyn(now);
      return;
    }
    const flight = this.flight;
    if (flight <= 0) return;
    // What is outstanding fills a peer window below one segment: a window probe (see below).
    const probe = this.sndWnd < this.smss && flight >= this.sndWnd;
    if (probe && this.lastRecvAt >= this.lastProbeAt) {
      // Like Linux's probe timer: a peer that answered the last probe (even without a new ACK) is
      // alive; the retry limit counts only the probes it leaves unanswered.
      this.retries = 0;
      this.rtxStart = now;
    }
    if (this.rtxStart === 0) this.rtxStart = now;
    // RFC 9293 3.8.3 (R2) / RFC 5482: give up after the retry limit or the user timeout.
    if (++this.retries > cfg.maxRetries || (this.userTimeout > 0 && now - this.rtxStart >= this.userTimeout)) {
      this.finish(this.softError ?? "ETIMEDOUT");
      return;
    }
    if (probe) {
      this.windowProbeTimeout(now);
      return;
    }
    this.host.count("rto");
    // RFC 5681 3.1 / RFC 6582 3.2 step 4: cwnd to one segment, recover = SND.NXT; everything
    // unSACKed is lost (recovery.ts), F-RTO may find the timeout spurious.
    this.rec.onTimeout(now, this.retries > 1);
    // RFC 6298 5.5: back off the timer.
    this.rtt.backoff();
    this.rttTimer.onRetransmit();
    // RFC 6298 5.4: retransmit the earliest segment not acknowledged.
    this.retransmitRecord(0, this.smss, now);
    // RFC 6298 5.6: restart the timer with the backed-off value.
    this.rtoAt = now + this.rtt.rto;
    this.xmitKind = Xmit.Rto;
  }

  /**
   * RFC 8985 7.3: the tail loss probe. One segment of new data if the peer's window takes it, else
   * the last segment sent again, so its ACK (or SACK) lets RACK find a loss at the tail; then the
   * RTO (not backed off: a probe is no timeout) watches the flight.
   */
  protected onProbeTimeout(now: number): void {
    const b = this.rec.board;
    if (this.flight === 0 || b.count === 0) return;
    // The PTO counts from the newest segment sent (its record is the last): later sends did not
    // move the timer, so it may have fired early.
    const rtt = this.rtt;
    const pto = Rack.pto(rtt.srtt, rtt.hasSample, this.flight, this.smss, this.host.config.tlpMaxAckDelay);
    const due = Math.min(b.timeOf(b.count - 1) + pto, now + rtt.rto);
    if (due > now) {
      this.rtoAt = due;
      this.xmitKind = Xmit.Probe;
      return;
    }
    this.host.count("tlp");
    let retransmission = false;
    const flight = this.flight;
    const len = Math.min(this.unsent, this.smss, this.sndWnd - flight);
    if (len > 0) {
      const fin = this.finQueued && len === this.unsent;
      this.sendSegment(this.sndNxt, flight, len, fin, false);
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
    } else {
      // Linux: the last MSS of the last segment.
      let last = b.count - 1;
      if ((b.flagsOf(last) & Seg.Sacked) === 0) {
        const start = b.seqOf(last);
        const end = b.endOf(last);
        if (seqSub(end, start) > this.smss) {
          b.split(last, seqAdd(end, -this.smss));
          last++;
        }
        this.retransmitRecord(last, this.smss, now);
        retransmission = true;
      }
    }
    this.rec.rack.probeSent(this.sndNxt, retransmission);
    this.rtoAt = now + this.rtt.rto;
    this.xmitKind = Xmit.Rto;
    this.updateTimer();
  }

  /** RFC 8985 6.3: RACK's reordering timer: the segments it waited for may be lost now. */
  protected onReorderTimeout(now: number): void {
    this.host.count("reorder-timeout");
    if (this.rec.onReorderTimeout(now)) this.output(now);
    if (this.flight === 0) return;
    if (this.rec.reoTimeout > 0) {
      this.rtoAt = now + this.rec.reoTimeout;
      this.xmitKind = Xmit.Reorder;
      this.rec.reoTimeout = 0;
    } else if (this.rtoAt === Infinity || this.xmitKind === Xmit.Reorder) {
      this.armRto(now);
    }
  }

  /**
   * The timer fired while what is outstanding fills a peer window below one segment: the data
   * sent was a window probe (RFC 9293 3.8.6.1; the peer's window, not the network, holds it), so
   * it is probed again as the persist timer would: no congestion signal (cwnd stays; RFC 6298
   * 5.5's backoff still spaces the probes), counted as a persist probe. What the window did not
   * take is sent again once it opens (recovery.ts: `resendAll`, without a window reduction).
   */
  private windowProbeTimeout(now: number): void {
    this.host.count("persist-probe");
    this.lastProbeAt = now;
    this.rtt.backoff();
    this.rttTimer.onRetransmit();
    this.rec.resendAll();
    this.retransmitRecord(0, Math.max(this.sndWnd, 1), now);
    this.rtoAt = now + this.rtt.rto;
    this.xmitKind = Xmit.Rto;
  }

  /** RFC 9293 3.8.6.1: the persist timer: probe a zero window, or override SWS avoidance. */
  protected onPersist(now: number): void {
    if (!this.synchronized || this.flight > 0) return;
    if (this.unsent === 0 && !(this.finQueued && !this.finSent)) return;
    if (this.sndWnd > 0) {
      // RFC 9293 3.8.6.2.1: the override timeout: send what the window allows.
      this.sendNewData(true);
    } else {
      // A zero-window probe: an out-of-window segment the peer must answer with an ACK carrying
      // its current window (Linux's tcp_xmit_probe_skb: SEQ = SND.UNA - 1).
      this.host.count("persist-probe");
      this.host.transmit(this, seqAdd(this.sndUna, -1), TcpFlags.ACK, 0, 0, false);
      this.persistBackoff++;
    }
    if (this.flight > 0) {
      if (this.rtoAt === Infinity) this.armRto(now);
    } else {
      this.persistAt = now + Math.min(this.rtt.rto * 2 ** this.persistBackoff, this.host.config.maxRto);
    }
  }

  /** RFC 9293 3.8.4 / RFC 1122 4.2.3.6: keepalive. */
  protected onKeepalive(now: number): void {
    if (!this.keepAlive || !this.synchronized || this.state === TcpState.TimeWait) return;
    if (this.flight > 0) {
      // Data is outstanding: the retransmission timer watches the peer.
      this.kaAt = now + this.keepAliveIdle;
      return;
    }
    const idle = now - this.lastRecvAt;
    if (this.kaProbes === 0 && idle < this.keepAliveIdle) {
      this.kaAt = this.lastRecvAt + this.keepAliveIdle;
      return;
    }
    if (this.kaProbes >= this.keepAliveCount) {
      this.finish("ETIMEDOUT");
      return;
    }
    // RFC 1122 4.2.3.6: a probe with SEG.SEQ = SND.NXT - 1 (no data) elicits an ACK.
    this.host.count("keepalive-probe");
    this.host.transmit(this, seqAdd(this.sndNxt, -1), TcpFlags.ACK, 0, 0, false);
    this.kaProbes++;
    this.kaAt = now + this.keepAliveInterval;
  }

  protected sendSyn(now: number): void {
    const ack = this.state === TcpState.SynRcvd;
    this.host.transmit(this, this.iss, ack ? TcpFlags.SYN | TcpFlags.ACK : TcpFlags.SYN, 0, 0, true);
    this.sndNxt = seqAdd(this.iss, 1);
    if (!this.synRetransmitted) this.rttTimer.onSend(this.sndNxt, now);
    this.rtoAt = now + this.rtt.rto;
    this.xmitKind = Xmit.Rto;
    this.updateTimer();
  }
}
