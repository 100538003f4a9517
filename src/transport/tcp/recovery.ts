/**
 * The sender's loss recovery: what each ACK and each timeout means for the segments in flight and
 * for the congestion window (the part of RFC 9293's sender that RFC 5681 and its successors add).
 *
 * - Loss detection: RACK (RFC 8985) over the SACK scoreboard, or RFC 6675's DupThresh rules
 *   (IsLost) when RACK is off, or RFC 6582 NewReno (three duplicate ACKs, partial ACKs) for peers
 *   without SACK.
 * - Fast recovery: entered once something is deemed lost; the window follows PRR (RFC 6937) with
 *   SACK, RFC 6582's inflation without; it ends when SND.UNA reaches the recovery point.
 * - Timeout recovery (RFC 6298 5.4-5.7, RFC 5681 3.1): everything outstanding is lost and is sent
 *   again as the window allows, SACKed data excepted; with F-RTO (RFC 5682, SACK-enhanced) new
 *   data is sent after the first ACK, and an ACK of data never retransmitted shows the timeout was
 *   spurious.
 * - Undo: a reduction found spurious is undone (cwnd and ssthresh restored, nothing deemed lost):
 *   by D-SACKs covering every retransmission (RFC 3708 detection), by a timestamp echo older than
 *   the first retransmission (Eifel detection, RFC 3522, with the response of RFC 4015), or by
 *   F-RTO.
 * - Tail loss probes (RFC 8985 7): when to arm the probe timer, and the window response when a
 *   probe repaired a loss.
 *
 * The states follow Linux's (tcp_fastretrans_alert): Open, Disorder (SACKs or duplicate ACKs seen,
 * nothing lost), Recovery, Loss. The connection sends what this decides (it retransmits the
 * records deemed lost, then new data, while the pipe is below cwnd) and owns the timers.
 */
import type { TcpConfig } from "./config.ts";
import type { CongestionControl } from "./congestion.ts";
import { Prr } from "./prr.ts";
import { Rack } from "./rack.ts";
import type { RttEstimator } from "./rtt.ts";
import { DUP_THRESH, Scoreboard } from "./scoreboard.ts";
import { seqGe, seqGt, seqLt, seqSub } from "./seqnum.ts";

/** Congestion states (after Linux's TCP_CA_*). */
export const CaState = {
  Open: 0,
  /** SACKed data or duplicate ACKs, nothing deemed lost. */
  Disorder: 1,
  /** Fast recovery. */
  Recovery: 2,
  /** After a retransmission timeout. */
  Loss: 3,
} as const;
export type CaState = (typeof CaState)[keyof typeof CaState];

/** Counters recovery bumps (names of `tcp.*` counters). */
export type RecoveryCounter =
  | "fast-retransmit"
  | "sack-recovery"
  | "dupack"
  | "dsack-received"
  | "undo"
  | "spurious-rto"
  | "tlp-recovered"
  | "lost-retransmit";

/** What recovery reads of the connection (the connection implements it). */
export interface RecoverySender {
  readonly sndUna: number;
  readonly sndNxt: number;
  readonly smss: number;
  readonly sackOk: boolean;
  readonly tsOk: boolean;
  readonly cc: CongestionControl;
  readonly rtt: RttEstimator;
  /** Bytes buffered and not yet sent that the peer's window would take now. */
  canSendNew(): boolean;
  countRecovery(what: RecoveryCounter): void;
}

export class LossRecovery {
  readonly board = new Scoreboard();
  readonly rack = new Rack();
  /** PRR's state, made at the first fast recovery (most connections never have one). */
  private prrState: Prr | null = null;
  state: CaState = CaState.Open;
  /** RFC 6582 / 6675 "recover" (RecoveryPoint), Linux's high_seq: SND.NXT when recovery began. */
  recoverPoint: number;
  dupAcks = 0;
  /** A reduction may still be undone: its start (SND.UNA), retransmissions not D-SACKed yet (-1: none sent). */
  undoMarker = false;
  undoSeq = 0;
  undoRetrans = -1;
  /** Our timestamp clock at the episode's first retransmission (Eifel detection). */
  retransStamp = 0;
  private retransStamped = false;
  /** F-RTO (RFC 5682) is running for the current timeout. */
  frto = false;
  /** F-RTO step 2b: the next output sends new data rather than retransmissions. */
  frtoNewData = false;
  /** The last ACK showed reordering while retransmissions are in flight: retransmit nothing now. */
  holdRetransmit = false;
  /** Ms until the RACK reordering timer should fire, from the last ACK (0: none). */
  reoTimeout = 0;
  /** Bytes the last ACK delivered (acknowledged or SACKed, each byte once). */
  deliveredBytes = 0;
  private readonly c: RecoverySender;
  private readonly cfg: TcpConfig;

  constructor(c: RecoverySender, cfg: TcpConfig, iss: number) {
    this.c = c;
    this.cfg = cfg;
    this.recoverPoint = iss;
  }

  /** PRR (RFC 6937) for the current fast recovery. */
  get prr(): Prr {
    let p = this.prrState;
    if (p === null) {
      p = new Prr();
      this.prrState = p;
    }
    return p;
  }

  /** In fast recovery or timeout recovery. */
  get recovering(): boolean {
    return this.state >= CaState.Recovery;
  }

  /** RACK-TLP is in use (configured, and the peer does SACK). */
  get rackOn(): boolean {
    return this.cfg.rack && this.c.sackOk;
  }

  /**
   * An acceptable ACK arrived (RFC 9293 3.10.7.4 fifth step) while data was in flight. The
   * connection already moved SND.UNA from `prevUna` to the ACK (`segAck`: the ACK's number, below
   * SND.UNA when the ACK was overtaken on the path). `blocks`/`count`: its SACK blocks;
   * `tsEcr`: its echoed timestamp (-1: none); `tsNow`: our timestamp clock. `dupCandidate`: no data,
   * no SYN/FIN, SND.UNA unchanged; `sameWnd`: the window field unchanged (RFC 5681 2's duplicate
   * ACK definition). `flightBefore`: FlightSize before the ACK.
   */
  onAck(
    prevUna: number,
    segAck: number,
    blocks: ArrayLike<number>,
    count: number,
    tsEcr: number,
    tsNow: number,
    dupCandidate: boolean,
    sameWnd: boolean,
    flightBefore: number,
    now: number,
  ): void {
    const c = this.c;
    const b = this.board;
    const una = c.sndUna;
    const acked = seqSub(una, prevUna);
    const unaAdvanced = acked > 0;
    this.rack.beginAck(now, tsEcr, tsNow);
    const lostBefore = b.lostBytes;
    let newlySacked = 0;
    let dsackEnd = -1;
    if (c.sackOk && count > 0) {
      newlySacked = b.sack(una, c.sndNxt, blocks, count, this.rack, seqLt(segAck, una) ? segAck : una);
      if (b.dsack) {
        dsackEnd = b.dsackRight;
        this.onDsack(b.dsackLeft, b.dsackRight);
      }
    }
    const ackedNew = unaAdvanced ? b.ack(una, this.rack) : 0;
    this.deliveredBytes = ackedNew + newlySacked;
    const dupAck = dupCandidate && (sameWnd || newlySacked > 0);
    if (dupAck) {
      this.dupAcks++;
      c.countRecovery("dupack");
    } else if (unaAdvanced) {
      this.dupAcks = 0;
    }

    let exitedByDsack = false;
    // RFC 8985 7.4.2: did a tail loss probe repair a loss?
    if (this.rack.tlpOut && this.rack.probeAcked(una, dsackEnd, dupAck && newlySacked === 0)) {
      c.countRecovery("tlp-recovered");
      if (this.state < CaState.Recovery) {
        c.cc.enterRecovery(now, flightBefore, c.sackOk);
        c.cc.exitRecovery(now, seqSub(c.sndNxt, una));
      }
    }

    // Linux (tcp_fastretrans_alert): in Open, no retransmission is outstanding: Eifel's stamp goes.
    if (this.state === CaState.Open && b.retransSegs === 0) this.retransStamped = false;
    // RFC 3708: every retransmission of the episode came back as a D-SACK (also after it ended).
    if (this.state <= CaState.Recovery && this.undoMarker && this.undoRetrans === 0) {
      if (this.state === CaState.Recovery) exitedByDsack = true;
      this.undo(false);
    }

    let exited = exitedByDsack;
    let detect = true;
    if (this.state === CaState.Recovery) {
      if (seqGe(una, this.recoverPoint)) {
        // RFC 6582 3.2 step 6 / RFC 6675 5: a full ACK ends recovery (undone if it was spurious).
        exited = true;
        if (this.mayUndo(tsEcr)) this.undo(true);
        else {
          this.state = CaState.Open;
          c.cc.exitRecovery(now, seqSub(c.sndNxt, una));
        }
      } else if (unaAdvanced && this.undoMarker && this.eifel(tsEcr)) {
        // Linux's tcp_try_undo_partial (RFC 3522 / 4015): the hole was filled by the original, not
        // by a retransmission: reordering, not loss. Undo now, or, while retransmissions are still
        // in flight, deem nothing more lost and retransmit nothing on this ACK.
        this.rack.reorderingSeen = true;
        detect = false;
        if (b.retransBytes > 0) this.holdRetransmit = true;
        else {
          exited = true;
          this.undo(true);
        }
      } else if (!c.sackOk && unaAdvanced) {
        // RFC 6582 3.2 step 5: a partial ACK: retransmit the first unacknowledged segment.
        if (b.count > 0) b.markLost(0);
        c.cc.onPartialAck(acked);
        c.countRecovery("fast-retransmit");
      } else if (!c.sackOk && dupAck) {
        c.cc.onDupAck();
      }
    } else if (this.state === CaState.Loss) {
      if (this.processLoss(unaAdvanced, dupAck, newlySacked, tsEcr)) exited = true;
    }
    this.rack.updateReoWnd(dsackEnd !== -1, una, c.sndNxt, exited);

    // Loss detection.
    if (detect && c.sackOk) {
      if (this.cfg.rack) {
        if (this.rack.advanced && (b.sackedBytes > 0 || this.state >= CaState.Recovery)) this.detectLoss(now);
      } else if (b.sackedBytes > 0) {
        b.markLost6675(c.smss);
      }
    }
    if (this.state < CaState.Recovery && b.lostBytes === 0 && this.dupAcks >= DUP_THRESH && b.count > 0) {
      // RFC 5681 3.2 / RFC 6675 5: DupThresh duplicate ACKs (RACK replaces the count by time, as
      // Linux does); RFC 6582 3.2 step 2: not for losses of a window already recovered (after a
      // timeout's retransmissions).
      if (c.sackOk ? !this.cfg.rack : !seqLt(una, this.recoverPoint)) b.markLost(0);
    }
    const newlyLost = b.lostBytes > lostBefore;
    if (this.state < CaState.Recovery && b.lostBytes > 0) this.enterRecovery(now, flightBefore);
    if (this.state < CaState.Recovery) {
      this.state = b.sackedBytes > 0 || this.dupAcks > 0 ? CaState.Disorder : CaState.Open;
    }

    // The congestion window.
    if (this.state === CaState.Recovery) {
      if (c.sackOk && this.deliveredBytes > 0) {
        const pipe = b.pipe(seqSub(c.sndNxt, una));
        c.cc.setCwnd(this.prr.onAck(this.deliveredBytes, pipe, c.cc.ssthresh, c.smss, unaAdvanced, newlyLost));
      }
    } else if (unaAdvanced && !exited) {
      c.cc.onAck(acked, c.rtt.srtt, now, flightBefore);
    }
  }

  /** RACK loss detection now; `reoTimeout` gets the time until the next record may expire. */
  detectLoss(now: number): void {
    const c = this.c;
    const reo = this.rack.reoWnd(this.state >= CaState.Recovery, this.board.sackedSegs, c.rtt.srtt);
    const retransBefore = this.board.retransSegs;
    this.reoTimeout = this.rack.detectLoss(this.board, reo, now);
    // A retransmission deemed lost again leaves Retrans (RFC 8985: detected without a timeout).
    for (let n = retransBefore - this.board.retransSegs; n > 0; n--) c.countRecovery("lost-retransmit");
  }

  /** The RACK reordering timer fired (RFC 8985 6.3): losses found start a recovery. True: send. */
  onReorderTimeout(now: number): boolean {
    const b = this.board;
    const lostBefore = b.lostBytes;
    this.detectLoss(now);
    if (b.lostBytes === lostBefore) return false;
    const c = this.c;
    if (this.state < CaState.Recovery) {
      this.enterRecovery(now, seqSub(c.sndNxt, c.sndUna));
      // Linux (tcp_rack_reo_timeout): no ACK came, but PRR's first step lets the retransmission go.
      if (c.sackOk)
        c.cc.setCwnd(this.prr.onAck(0, b.pipe(seqSub(c.sndNxt, c.sndUna)), c.cc.ssthresh, c.smss, false, true));
    }
    return true;
  }

  /**
   * The retransmission timer expired (RFC 6298 5.4-5.7): everything unSACKed is lost, the window
   * collapses (RFC 5681 3.1), and F-RTO starts when this timeout opens an episode or repeats one.
   */
  onTimeout(now: number, repeated: boolean): void {
    const c = this.c;
    const flight = seqSub(c.sndNxt, c.sndUna);
    const fresh = this.state < CaState.Recovery;
    if (fresh || !this.undoMarker) this.initUndo();
    this.frto = this.cfg.frto && (fresh || repeated);
    this.frtoNewData = false;
    c.cc.onRetransmitTimeout(now, flight);
    // Linux (tcp_timeout_mark_lost): with RACK, segments sent within RACK.rtt may still be ACKed.
    this.board.markAllLost(this.rackOn && this.rack.rtt > 0 ? now - this.rack.rtt : Number.POSITIVE_INFINITY);
    this.state = CaState.Loss;
    this.recoverPoint = c.sndNxt;
    this.dupAcks = 0;
    this.reoTimeout = 0;
    this.rack.tlpOut = false;
  }

  /**
   * Everything in flight goes again, as in a timeout recovery but without a congestion response
   * (Linux's tcp_simple_retransmit): the path MTU shrank (RFC 1191 / 8201) and the segments were
   * too big, or the peer's window shrank below what was sent.
   */
  resendAll(): void {
    this.board.markAllLost(Number.POSITIVE_INFINITY);
    if (this.state !== CaState.Loss) {
      this.state = CaState.Loss;
      this.recoverPoint = this.c.sndNxt;
      this.undoMarker = false;
      this.frto = false;
    }
  }

  /** A record was retransmitted (undo bookkeeping; PRR's prr_out is counted by `sent`). */
  onRetransmit(tsNow: number): void {
    if (this.undoMarker) this.undoRetrans = this.undoRetrans < 0 ? 1 : this.undoRetrans + 1;
    if (!this.retransStamped) {
      this.retransStamped = true;
      this.retransStamp = tsNow;
    }
  }

  /** Bytes were sent (new or again). */
  sent(bytes: number): void {
    if (this.state === CaState.Recovery) this.prr.sent(bytes);
  }

  /**
   * May the tail loss probe timer run now (RFC 8985 7.2)? With RACK, outside recovery, with
   * nothing SACKed, and no probe unresolved.
   */
  ptoAllowed(): boolean {
    return this.rackOn && this.state === CaState.Open && this.board.sackedBytes === 0 && !this.rack.tlpOut;
  }

  /** Fast recovery begins (RFC 6675 5 step 4 / RFC 5681 3.2 step 2): PRR takes over the window. */
  private enterRecovery(now: number, flight: number): void {
    const c = this.c;
    if (this.state < CaState.Recovery || !this.undoMarker) this.initUndo();
    c.cc.enterRecovery(now, flight, c.sackOk);
    this.recoverPoint = c.sndNxt;
    this.state = CaState.Recovery;
    this.prr.start(flight);
    c.countRecovery(c.sackOk ? "sack-recovery" : "fast-retransmit");
  }

  /**
   * Linux's tcp_process_loss for an ACK in the Loss state: undo (Eifel, D-SACK), F-RTO (RFC 5682
   * 3.1, SACK-enhanced), and the end of timeout recovery. True when the state left Loss.
   */
  private processLoss(unaAdvanced: boolean, dupAck: boolean, newlySacked: number, tsEcr: number): boolean {
    const c = this.c;
    const recovered = seqGe(c.sndUna, this.recoverPoint);
    if (unaAdvanced && this.mayUndo(tsEcr)) {
      this.undo(true);
      c.countRecovery("spurious-rto");
      return true;
    }
    if (this.frto) {
      // Step 3.b: data never retransmitted was (S)ACKed: not all was lost; the timeout was spurious.
      if (this.rack.origDelivered && this.undoMarker) {
        this.undo(true);
        c.countRecovery("spurious-rto");
        return true;
      }
      if (seqGt(c.sndNxt, this.recoverPoint)) {
        // Step 3.a: after the new data of step 2.b, a duplicate ACK or SACK: the loss was real.
        if (newlySacked > 0 || dupAck) this.frto = false;
      } else if (unaAdvanced && !recovered) {
        // Step 2.b: the first ACK after the timeout moved SND.UNA: send new data, not retransmissions.
        this.recoverPoint = c.sndNxt;
        if (c.canSendNew()) {
          this.frtoNewData = true;
          return false;
        }
        this.frto = false;
      }
    }
    if (recovered) {
      // Step 2.a / the end of timeout recovery.
      if (this.mayUndo(tsEcr)) {
        this.undo(true);
        c.countRecovery("spurious-rto");
      } else this.state = CaState.Open;
      this.frto = false;
      return true;
    }
    return false;
  }

  /** A D-SACK block (RFC 2883) for [l, r): RFC 3708 counts the spurious retransmissions. */
  private onDsack(l: number, r: number): void {
    const c = this.c;
    c.countRecovery("dsack-received");
    // A D-SACK for the tail loss probe says only that the probe was not needed.
    if (this.rack.tlpOut && r === this.rack.tlpEnd) return;
    if (this.undoMarker && this.undoRetrans > 0 && seqGt(r, this.undoSeq)) {
      const segs = Math.max(1, Math.ceil(seqSub(r, l) / c.smss));
      this.undoRetrans = Math.max(0, this.undoRetrans - segs);
    }
  }

  /**
   * A congestion episode begins: remember how to undo it (Linux's tcp_init_undo). Retransmissions
   * of an earlier episode still in flight may come back as D-SACKs too, so they count towards this
   * one (an undo needs every one of them reported). The first retransmission's timestamp (Eifel)
   * stays while retransmissions are outstanding.
   */
  private initUndo(): void {
    this.undoMarker = true;
    this.undoSeq = this.c.sndUna;
    const inFlight = this.board.retransSegs;
    this.undoRetrans = inFlight > 0 ? inFlight : -1;
    if (inFlight === 0) this.retransStamped = false;
    this.c.cc.saveUndo();
  }

  /**
   * Was the episode's reduction spurious? Every retransmission D-SACKed (RFC 3708), or (RFC 3522
   * Eifel detection) the ACK echoes a timestamp older than the first retransmission: it answers
   * the original transmission.
   */
  private mayUndo(tsEcr: number): boolean {
    if (!this.undoMarker) return false;
    return this.undoRetrans === 0 || this.eifel(tsEcr);
  }

  /** RFC 3522: the ACK echoes a timestamp from before the episode's first retransmission. */
  private eifel(tsEcr: number): boolean {
    return this.retransStamped && tsEcr > 0 && this.c.tsOk && seqLt(tsEcr, this.retransStamp);
  }

  /**
   * Undo (RFC 4015's response, Linux's tcp_undo_cwnd_reduction): the window and threshold from
   * before the episode; with `unmark`, nothing is deemed lost any more (transmission resumes with
   * new data, not with the retransmissions a timeout queued).
   */
  private undo(unmark: boolean): void {
    // A fast retransmit proven spurious: the path reorders (Linux's tcp_check_sack_reordering on
    // the same evidence); RACK keeps its reordering window from now on.
    if (this.state !== CaState.Loss) this.rack.reorderingSeen = true;
    this.c.cc.undo();
    if (unmark) this.board.clearLost();
    this.undoMarker = false;
    this.frto = false;
    this.frtoNewData = false;
    if (this.state >= CaState.Recovery) this.state = CaState.Open;
    this.c.countRecovery("undo");
  }
}
