/*
 * netstack TAP addon (Node-API, C): Linux TAP devices for src/node/tap.ts.
 *
 *   open(name, tun, vnet, offloads)   -> { fd, name, vnetHdrLen, offloads }
 *                                                          open /dev/net/tun, TUNSETIFF IFF_TAP (or IFF_TUN)
 *                                                          | IFF_NO_PI, non-blocking, close-on-exec; with
 *                                                          `vnet`: IFF_VNET_HDR, TUNSETVNETHDRSZ 12,
 *                                                          TUNSETVNETLE, TUNSETOFFLOAD with the largest
 *                                                          subset of `offloads` the kernel accepts (falls
 *                                                          back to no vnet header where IFF_VNET_HDR is
 *                                                          refused: vnetHdrLen 0)
 *   read(fd, buf, lens, frameMax, meta) -> count          read frames until EAGAIN, `lens` full, or less than
 *                                                          `frameMax` bytes left in `buf`; frame i is at the
 *                                                          sum of lens[0..i) rounded up to 8 bytes each; in
 *                                                          vnet mode (`meta` a Uint8Array, else null) frame
 *                                                          i's virtio_net_hdr goes to meta[12 i, 12 i + 12)
 *                                                          (readv: never into the frame bytes)
 *   write(fd, buf, off, len, meta, metaOff, vnetHdrLen) -> bytes or -errno  one frame, on the calling thread; in vnet
 *                                                          mode with meta[metaOff, +12) as its header
 *                                                          (null: an all-zero header, GSO_NONE)
 *   writer(fd, ringBytes, vnetHdrLen) -> handle           a writer thread with its own byte ring
 *   writerSend(w, buf, off, len, direct, meta, metaOff) -> 0 or -errno  copy one frame (and its header)
 *                                                          into the ring (waits while the ring is full) and
 *                                                          wake the thread if it sleeps; with `direct` and
 *                                                          nothing queued, write(2) it here instead (no
 *                                                          thread hand-off: latency)
 *   writerStats(w, out)               out = Float64Array [frames written, frames failed, last errno,
 *                                                          frames queued now, times the sender waited]
 *   writerClose(w)                    write what is queued, stop and join the thread
 *   reader(fd, frameMax, callback, vnetHdrLen) -> handle  a reader thread: reads frames into pools the JS
 *                                                          side feeds, callback(status) on the JS thread when
 *                                                          frames are ready (0) or reading failed (-errno)
 *   readerFeed(r, pool)               give the thread a pool (a Uint8Array kept alive by the caller until
 *                                     every frame of it was taken); returns the pools it now holds
 *   readerTake(r, seqs, offs, lens, meta) -> count        frames ready: pool sequence number, offset, length;
 *                                                          in vnet mode their headers copied to meta[12 i..]
 *   readerNotify(r)                   have the callback called again (after resume)
 *   readerClose(r)                    stop and join the thread
 *   poller(fd, callback)              -> handle           libuv poll handle (stopped); callback(status) on
 *                                                          readable (status 0) or error (negative errno)
 *   pollStart(h) / pollStop(h)        backpressure: poll or not
 *   ref(h) / unref(h)                 whether the handle keeps the event loop alive
 *   closeFd(fd, h | null)             stop polling, close the fd (the handle is freed by libuv later)
 *   setUp(name), setMtu(name, mtu)    SIOCSIFFLAGS IFF_UP / SIOCSIFMTU on the kernel side
 *   keepHeap(trim, topPad, mmapMin)   -> bool             glibc mallopt: M_TRIM_THRESHOLD, M_TOP_PAD,
 *                                                          M_MMAP_THRESHOLD (false where not glibc)
 *
 * Errors are thrown as Error objects with `code` (e.g. "EPERM"), `errno` (negative) and `syscall`.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <malloc.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

/* Older kernel headers lack the UDP segmentation offloads (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef TUNSETVNETLE
#define TUNSETVNETLE _IOW('T', 220, int)
#endif

/* The virtio_net_hdr_v1 (virtio 1.0 5.1.6: flags, gso_type, hdr_len, gso_size, csum_start,
   csum_offset, num_buffers; 12 bytes, little-endian). See src/wire/virtio-net.ts for why 12. */
#define VNET_HDR_LEN 12

#define CHECK(env, call)                                                                                  \
  do {                                                                                                     \
    if ((call) != napi_ok) {                                                                               \
      napi_throw_error((env), NULL, "tap addon: " #call " failed");                                        \
      return NULL;                                                                                         \
    }                                                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, strerror(err), what);
  napi_value code, message, error, errno_v, syscall_v;
  const char *name = uv_err_name(-err);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "tap addon: missing arguments");
    return 0;
  }
  return 1;
}

static int get_name(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "interface name must be a string");
    return 0;
  }
  if (len >= IFNAMSIZ) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "interface name is longer than 15 bytes");
    return 0;
  }
  memset(out, 0, IFNAMSIZ);
  napi_get_value_string_utf8(env, v, out, IFNAMSIZ, &len);
  return 1;
}

/* TUNSETOFFLOAD with `want`, dropping what the kernel refuses (EINVAL) in order: USO, TSO_ECN, TSO,
   then everything; returns the flags set (0 when none were accepted). */
static unsigned set_offloads(int fd, unsigned want) {
  const unsigned drops[] = {TUN_F_USO4 | TUN_F_USO6, TUN_F_TSO_ECN, TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, ~0u};
  unsigned f = want;
  for (size_t i = 0;; i++) {
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)f) == 0) return f;
    if (i == sizeof drops / sizeof drops[0] || f == 0) break;
    f &= ~drops[i];
  }
  ioctl(fd, TUNSETOFFLOAD, 0ul);
  return 0;
}

static napi_value tap_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  char name[IFNAMSIZ];
  if (!get_name(env, argv[0], name)) return NULL;
  bool tun = false, vnet = false;
  uint32_t want = 0;
  CHECK(env, napi_get_value_bool(env, argv[1], &tun));
  CHECK(env, napi_get_value_bool(env, argv[2], &vnet));
  CHECK(env, napi_get_value_uint32(env, argv[3], &want));
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", "/dev/net/tun");
  unsigned features = 0;
  if (vnet && (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR))) vnet = false;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)((tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  int r = ioctl(fd, TUNSETIFF, &ifr);
  if (r < 0 && vnet && errno == EINVAL) {
    /* A persistent device created without IFF_VNET_HDR refuses it: open it without. */
    vnet = false;
    ifr.ifr_flags = (short)((tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI);
    memcpy(ifr.ifr_name, name, IFNAMSIZ);
    r = ioctl(fd, TUNSETIFF, &ifr);
  }
  if (r < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "ioctl", "TUNSETIFF");
  }
  int hdr_len = 0;
  unsigned offloads = 0;
  if (vnet) {
    int sz = VNET_HDR_LEN, le = 1;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "ioctl", "TUNSETVNETHDRSZ");
    }
    /* virtio 1.0 headers are little-endian; on a little-endian host this is the default anyway. */
    if (ioctl(fd, TUNSETVNETLE, &le) < 0 && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "ioctl", "TUNSETVNETLE");
    }
    hdr_len = VNET_HDR_LEN;
    offloads = set_offloads(fd, want);
  }
  napi_value result, fd_v, name_v, hdr_v, off_v;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_int32(env, fd, &fd_v));
  CHECK(env, napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_v));
  CHECK(env, napi_create_int32(env, hdr_len, &hdr_v));
  CHECK(env, napi_create_uint32(env, offloads, &off_v));
  CHECK(env, napi_set_named_property(env, result, "fd", fd_v));
  CHECK(env, napi_set_named_property(env, result, "name", name_v));
  CHECK(env, napi_set_named_property(env, result, "vnetHdrLen", hdr_v));
  CHECK(env, napi_set_named_property(env, result, "offloads", off_v));
  return result;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return 0;
  }
  *data = ptr;
  *len = length;
  return 1;
}

/* An optional Uint8Array argument: *data NULL for null/undefined. */
static int get_opt_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  return get_bytes(env, v, data, len);
}

static const uint8_t zero_hdr[16];

/* One frame with its virtio_net_hdr in front (hdr NULL: zeros), gathered. */
static ssize_t write_frame(int fd, const uint8_t *hdr, size_t hdr_len, const uint8_t *frame, size_t len) {
  ssize_t n;
  if (hdr_len == 0) {
    do n = write(fd, frame, len);
    while (n < 0 && errno == EINTR);
    return n;
  }
  struct iovec iov[2] = {{(void *)(hdr != NULL ? hdr : zero_hdr), hdr_len}, {(void *)frame, len}};
  do n = writev(fd, iov, 2);
  while (n < 0 && errno == EINTR);
  return n;
}

static napi_value tap_read(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t fd, frame_max;
  uint8_t *buf, *meta;
  size_t buf_len, meta_len;
  napi_typedarray_type type;
  size_t nlens, lens_off;
  void *lens_ptr;
  napi_value ab;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  if (!get_bytes(env, argv[1], &buf, &buf_len)) return NULL;
  if (napi_get_typedarray_info(env, argv[2], &type, &nlens, &lens_ptr, &ab, &lens_off) != napi_ok ||
      type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "expected a Uint32Array");
    return NULL;
  }
  CHECK(env, napi_get_value_int32(env, argv[3], &frame_max));
  if (!get_opt_bytes(env, argv[4], &meta, &meta_len)) return NULL;
  uint32_t *lens = lens_ptr;
  size_t off = 0, count = 0;
  if (meta != NULL && meta_len / VNET_HDR_LEN < nlens) nlens = meta_len / VNET_HDR_LEN;
  while (count < nlens && buf_len - off >= (size_t)frame_max) {
    ssize_t n;
    if (meta != NULL) {
      struct iovec iov[2] = {{meta + count * VNET_HDR_LEN, VNET_HDR_LEN}, {buf + off, (size_t)frame_max}};
      n = readv(fd, iov, 2);
      if (n >= 0) n = n < VNET_HDR_LEN ? 0 : n - VNET_HDR_LEN;
    } else {
      n = read(fd, buf + off, (size_t)frame_max);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (count > 0) break; /* report the frames read; the error comes back on the next call */
      return throw_errno(env, errno, "read", "TAP device");
    }
    lens[count++] = (uint32_t)n;
    off += ((size_t)n + 7) & ~(size_t)7;
    if (buf_len < off) break;
  }
  napi_value result;
  CHECK(env, napi_create_uint32(env, (uint32_t)count, &result));
  return result;
}

/* The header argument pair (meta, metaOff) of write/writerSend: NULL for null (zeros). */
static int get_hdr(napi_env env, napi_value mv, napi_value ov, const uint8_t **hdr) {
  uint8_t *meta;
  size_t meta_len;
  int32_t moff = 0;
  if (!get_opt_bytes(env, mv, &meta, &meta_len)) return 0;
  if (meta == NULL) {
    *hdr = NULL;
    return 1;
  }
  if (napi_get_value_int32(env, ov, &moff) != napi_ok || moff < 0 || (size_t)moff + VNET_HDR_LEN > meta_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "virtio_net_hdr range outside the buffer");
    return 0;
  }
  *hdr = meta + moff;
  return 1;
}

static napi_value tap_write(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  int32_t fd, off, len, hdr_len;
  uint8_t *buf;
  size_t buf_len;
  const uint8_t *hdr;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  if (!get_bytes(env, argv[1], &buf, &buf_len)) return NULL;
  CHECK(env, napi_get_value_int32(env, argv[2], &off));
  CHECK(env, napi_get_value_int32(env, argv[3], &len));
  CHECK(env, napi_get_value_int32(env, argv[6], &hdr_len));
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > buf_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "write range outside the buffer");
    return NULL;
  }
  if (!get_hdr(env, argv[4], argv[5], &hdr)) return NULL;
  ssize_t n = write_frame(fd, hdr, hdr_len == VNET_HDR_LEN ? VNET_HDR_LEN : 0, buf + off, (size_t)len);
  if (n > 0) n -= hdr_len == VNET_HDR_LEN ? VNET_HDR_LEN : 0;
  napi_value result;
  CHECK(env, napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result));
  return result;
}

/* ---- the writer thread ----
 *
 * write(2) on a TAP device does the kernel's receive work (IP, TCP, waking the reader) in the calling
 * thread. The writer thread takes that off the JS thread: `writerSend` copies the frame into a byte
 * ring (records of [u32 length, u32 pad, in vnet mode a 16-byte slot holding the 12-byte header,
 * frame, padding to 8 bytes]; a length of SKIP marks the end of the ring) and the thread writes the
 * frames in order. One producer (the JS thread), one consumer.
 * Positions are monotonic byte counters; `head` is written by the producer, `tail` by the thread. */

#define SKIP 0xffffffffu
#define MAX_FRAME 65600 /* 65535 + an Ethernet header with tags, rounded up */

typedef struct {
  int fd;
  uint32_t hdr_slot;         /* 16 in vnet mode (a 12-byte header, 8-byte aligned), else 0 */
  uint8_t *ring;
  uint64_t size;             /* bytes, a multiple of 8 */
  _Atomic uint64_t head;     /* producer position */
  _Atomic uint64_t tail;     /* consumer position */
  _Atomic int sleeping;      /* the thread waits for frames */
  _Atomic int waiting;       /* the producer waits for space */
  _Atomic int stop;
  _Atomic uint64_t written, failed, waits, queued;
  _Atomic int last_errno;
  pthread_mutex_t mu;
  pthread_cond_t frames;     /* signalled when frames were added or on stop */
  pthread_cond_t space;      /* signalled when the thread freed space */
  pthread_t thread;
  int joined;
} writer_t;

static void *writer_main(void *arg) {
  writer_t *w = arg;
  for (;;) {
    uint64_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint64_t h = atomic_load(&w->head);
    if (t == h) {
      pthread_mutex_lock(&w->mu);
      atomic_store(&w->sleeping, 1);
      while (atomic_load(&w->head) == t && !atomic_load(&w->stop)) pthread_cond_wait(&w->frames, &w->mu);
      atomic_store(&w->sleeping, 0);
      int stop = atomic_load(&w->stop) && atomic_load(&w->head) == t;
      pthread_mutex_unlock(&w->mu);
      if (stop) return NULL;
      continue;
    }
    uint64_t off = t % w->size;
    uint32_t len;
    memcpy(&len, w->ring + off, 4);
    if (len == SKIP) {
      atomic_store(&w->tail, t + (w->size - off));
      continue;
    }
    ssize_t n = write_frame(w->fd, w->ring + off + 8, w->hdr_slot ? VNET_HDR_LEN : 0,
                            w->ring + off + 8 + w->hdr_slot, len);
    if (n < 0) {
      atomic_store(&w->last_errno, errno);
      atomic_fetch_add(&w->failed, 1);
    } else {
      atomic_fetch_add(&w->written, 1);
    }
    atomic_fetch_sub(&w->queued, 1);
    atomic_store(&w->tail, t + 8 + w->hdr_slot + ((len + 7) & ~(uint64_t)7));
    if (atomic_load(&w->waiting)) {
      pthread_mutex_lock(&w->mu);
      pthread_mutex_unlock(&w->mu);
      pthread_cond_signal(&w->space);
    }
  }
}

static void writer_stop(writer_t *w) {
  if (w->joined) return;
  pthread_mutex_lock(&w->mu);
  atomic_store(&w->stop, 1);
  pthread_cond_signal(&w->frames);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->joined = 1;
}

static void writer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  writer_t *w = data;
  writer_stop(w);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->frames);
  pthread_cond_destroy(&w->space);
  free(w->ring);
  free(w);
}

static writer_t *get_writer(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a writer handle");
    return NULL;
  }
  return data;
}

static napi_value tap_writer(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t fd, hdr_len;
  int64_t size;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  CHECK(env, napi_get_value_int64(env, argv[1], &size));
  CHECK(env, napi_get_value_int32(env, argv[2], &hdr_len));
  if (size < 2 * (MAX_FRAME + 32) || size > (1 << 30)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "writer ring size must be 131264 bytes .. 1 GiB");
    return NULL;
  }
  writer_t *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, ENOMEM, "calloc", "writer");
  w->size = ((uint64_t)size + 7) & ~(uint64_t)7;
  w->ring = malloc(w->size);
  if (w->ring == NULL) {
    free(w);
    return throw_errno(env, ENOMEM, "malloc", "writer ring");
  }
  w->fd = fd;
  w->hdr_slot = hdr_len == VNET_HDR_LEN ? 16 : 0;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->frames, NULL);
  pthread_cond_init(&w->space, NULL);
  int r = pthread_create(&w->thread, NULL, writer_main, w);
  if (r != 0) {
    free(w->ring);
    free(w);
    return throw_errno(env, r, "pthread_create", "writer thread");
  }
  napi_value external;
  CHECK(env, napi_create_external(env, w, writer_finalize, NULL, &external));
  return external;
}

static napi_value tap_writer_send(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  writer_t *w = get_writer(env, argv[0]);
  if (w == NULL) return NULL;
  int32_t off, len;
  uint8_t *buf;
  size_t buf_len;
  if (!get_bytes(env, argv[1], &buf, &buf_len)) return NULL;
  CHECK(env, napi_get_value_int32(env, argv[2], &off));
  CHECK(env, napi_get_value_int32(env, argv[3], &len));
  if (off < 0 || len < 0 || len > MAX_FRAME || (size_t)off + (size_t)len > buf_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "write range outside the buffer or longer than 65600 bytes");
    return NULL;
  }
  if (w->joined) {
    napi_throw_error(env, "ERR_CLOSED", "writer is closed");
    return NULL;
  }
  bool direct = false;
  CHECK(env, napi_get_value_bool(env, argv[4], &direct));
  const uint8_t *hdr = NULL;
  if (w->hdr_slot && !get_hdr(env, argv[5], argv[6], &hdr)) return NULL;
  if (direct && atomic_load(&w->head) == atomic_load(&w->tail)) {
    /* Nothing queued: the thread is not writing, so order is kept. */
    ssize_t n = write_frame(w->fd, hdr, w->hdr_slot ? VNET_HDR_LEN : 0, buf + off, (size_t)len);
    napi_value result;
    CHECK(env, napi_create_int32(env, n < 0 ? -errno : 0, &result));
    return result;
  }
  uint64_t rec = 8 + w->hdr_slot + (((uint64_t)len + 7) & ~(uint64_t)7);
  uint64_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
  uint64_t off_in = h % w->size;
  uint64_t skip = w->size - off_in < rec ? w->size - off_in : 0;
  uint64_t need = skip + rec;
  if (w->size - (h - atomic_load(&w->tail)) < need) {
    /* Full: wait for the thread (it always makes progress: writes to a TAP never block). */
    atomic_fetch_add(&w->waits, 1);
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->waiting, 1);
    while (w->size - (h - atomic_load(&w->tail)) < need) pthread_cond_wait(&w->space, &w->mu);
    atomic_store(&w->waiting, 0);
    pthread_mutex_unlock(&w->mu);
  }
  if (skip != 0) {
    uint32_t marker = SKIP;
    memcpy(w->ring + off_in, &marker, 4);
    h += skip;
    off_in = 0;
  }
  uint32_t len32 = (uint32_t)len;
  memcpy(w->ring + off_in, &len32, 4);
  if (w->hdr_slot) memcpy(w->ring + off_in + 8, hdr != NULL ? hdr : zero_hdr, VNET_HDR_LEN);
  memcpy(w->ring + off_in + 8 + w->hdr_slot, buf + off, (size_t)len);
  atomic_fetch_add(&w->queued, 1);
  atomic_store(&w->head, h + rec); /* seq_cst: ordered before the load of `sleeping` */
  if (atomic_load(&w->sleeping)) {
    /* Taking the lock makes sure the thread is inside pthread_cond_wait (it checks `head` under
       the lock before waiting); signalling after unlocking saves it waking into a held mutex. */
    pthread_mutex_lock(&w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_cond_signal(&w->frames);
  }
  napi_value result;
  CHECK(env, napi_create_int32(env, 0, &result));
  return result;
}

static napi_value tap_writer_stats(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  writer_t *w = get_writer(env, argv[0]);
  if (w == NULL) return NULL;
  napi_typedarray_type type;
  size_t n, off;
  void *ptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[1], &type, &n, &ptr, &ab, &off) != napi_ok || type != napi_float64_array ||
      n < 5) {
    napi_throw_type_error(env, NULL, "expected a Float64Array of 5");
    return NULL;
  }
  double *out = ptr;
  out[0] = (double)atomic_load(&w->written);
  out[1] = (double)atomic_load(&w->failed);
  out[2] = (double)atomic_load(&w->last_errno);
  out[3] = (double)atomic_load(&w->queued);
  out[4] = (double)atomic_load(&w->waits);
  return NULL;
}

static napi_value tap_writer_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  writer_t *w = get_writer(env, argv[0]);
  if (w == NULL) return NULL;
  writer_stop(w);
  return NULL;
}

/* ---- the reader thread ----
 *
 * read(2) on a TAP device is one system call per frame. The reader thread does them: it reads into
 * pools (Uint8Arrays the JS side feeds, never reused: frames handed out are views of them) and
 * publishes descriptors (pool sequence number, offset, length) in a ring; a uv_async handle wakes the
 * JS thread, which takes them. When the ring is full (the JS side is slow or paused) the thread stops
 * reading and the kernel queues, then drops, as it does for any slow reader. */

#define DESC 1024
#define POOLS 8

typedef struct {
  uint32_t seq, off, len;
  uint8_t hdr[VNET_HDR_LEN]; /* vnet mode: the frame's header */
} desc_t;

typedef struct {
  uint8_t *ptr;
  size_t len;
} pool_t;

typedef struct {
  int fd, efd;
  uint32_t frame_max;
  uint32_t hdr_len; /* vnet mode: each frame is read with its header in front (the header stays in the pool) */
  uv_async_t async;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  desc_t desc[DESC];
  _Atomic uint32_t dhead, dtail; /* descriptors: published by the thread, taken by JS */
  pool_t pools[POOLS];
  _Atomic uint32_t phead, ptail; /* pools: fed by JS, used up by the thread (ptail is the current one) */
  uint32_t poff;                 /* thread: fill offset in the current pool */
  _Atomic int notified, stop, waiting, error, taken_all;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int started, joined, closed, handle_closed, finalized;
} reader_t;

static void reader_wake_js(reader_t *r) {
  if (!atomic_exchange(&r->notified, 1)) uv_async_send(&r->async);
}

static void *reader_main(void *arg) {
  reader_t *r = arg;
  for (;;) {
    if (atomic_load(&r->stop)) return NULL;
    uint32_t ph = atomic_load(&r->phead), pt = atomic_load(&r->ptail);
    uint32_t dh = atomic_load_explicit(&r->dhead, memory_order_relaxed), dt = atomic_load(&r->dtail);
    if (ph == pt || dh - dt == DESC) {
      /* No pool to read into, or the ring is full: wait for the JS side. */
      pthread_mutex_lock(&r->mu);
      atomic_store(&r->waiting, 1);
      while (!atomic_load(&r->stop) && (atomic_load(&r->phead) == atomic_load(&r->ptail) ||
                                         dh - atomic_load(&r->dtail) == DESC)) {
        reader_wake_js(r);
        pthread_cond_wait(&r->cv, &r->mu);
      }
      atomic_store(&r->waiting, 0);
      pthread_mutex_unlock(&r->mu);
      continue;
    }
    pool_t *p = &r->pools[pt % POOLS];
    ssize_t n = read(r->fd, p->ptr + r->poff, r->frame_max + r->hdr_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd fds[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->efd, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR) {
          atomic_store(&r->error, errno);
          reader_wake_js(r);
          return NULL;
        }
        if (fds[1].revents & POLLIN) return NULL; /* stop */
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
          atomic_store(&r->error, EIO);
          reader_wake_js(r);
          return NULL;
        }
        continue;
      }
      atomic_store(&r->error, errno);
      reader_wake_js(r);
      return NULL;
    }
    if ((size_t)n < r->hdr_len) continue; /* cannot happen: the kernel writes the header first */
    desc_t *d = &r->desc[dh % DESC];
    d->seq = pt;
    d->off = r->poff + r->hdr_len;
    d->len = (uint32_t)n - r->hdr_len;
    if (r->hdr_len) memcpy(d->hdr, p->ptr + r->poff, VNET_HDR_LEN);
    r->poff += ((uint32_t)n + 7) & ~7u;
    if (p->len - r->poff < r->frame_max + r->hdr_len) {
      r->poff = 0;
      atomic_store(&r->ptail, pt + 1); /* done with this pool */
    }
    atomic_store(&r->dhead, dh + 1);
    reader_wake_js(r);
  }
}

static void reader_stop(reader_t *r) {
  if (!r->started || r->joined) return;
  atomic_store(&r->stop, 1);
  uint64_t one = 1;
  ssize_t ignored = write(r->efd, &one, sizeof one);
  (void)ignored;
  pthread_mutex_lock(&r->mu);
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  r->joined = 1;
}

static void reader_free(reader_t *r) {
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  if (r->efd >= 0) close(r->efd);
  free(r);
}

static void reader_handle_closed(uv_handle_t *h) {
  reader_t *r = h->data;
  r->handle_closed = 1;
  if (r->finalized) reader_free(r);
}

static void reader_close(reader_t *r) {
  if (r->closed) return;
  r->closed = 1;
  reader_stop(r);
  if (r->callback != NULL) napi_delete_reference(r->env, r->callback);
  r->callback = NULL;
  if (r->context != NULL) napi_async_destroy(r->env, r->context);
  r->context = NULL;
  uv_close((uv_handle_t *)&r->async, reader_handle_closed);
}

static void on_async(uv_async_t *handle) {
  reader_t *r = handle->data;
  atomic_store(&r->notified, 0);
  if (r->closed || r->callback == NULL) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &recv);
  int err = atomic_load(&r->error);
  int pending = atomic_load(&r->dhead) != atomic_load(&r->dtail);
  /* Frames first; the error once they are all taken. */
  napi_create_int32(env, pending || err == 0 ? 0 : -err, &arg);
  napi_status s = napi_make_callback(env, r->context, recv, cb, 1, &arg, &result);
  if (s == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
  napi_close_handle_scope(env, scope);
  /* The callback took a batch; more are waiting: come back on the next loop turn. */
  if (!r->closed && atomic_exchange(&r->taken_all, 0) == 0 && atomic_load(&r->dhead) != atomic_load(&r->dtail))
    reader_wake_js(r);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  reader_t *r = data;
  r->finalized = 1;
  if (r->closed) {
    if (r->handle_closed) reader_free(r);
    return;
  }
  r->closed = 1;
  reader_stop(r);
  uv_close((uv_handle_t *)&r->async, reader_handle_closed);
}

static reader_t *get_reader(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a reader handle");
    return NULL;
  }
  return data;
}

static napi_value tap_reader(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd, frame_max, hdr_len;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  CHECK(env, napi_get_value_int32(env, argv[1], &frame_max));
  CHECK(env, napi_get_value_int32(env, argv[3], &hdr_len));
  if (frame_max < 64 || frame_max > (1 << 20)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "frameMax must be 64 .. 1 MiB");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  reader_t *r = calloc(1, sizeof *r);
  if (r == NULL) return throw_errno(env, ENOMEM, "calloc", "reader");
  r->fd = fd;
  r->frame_max = (uint32_t)frame_max;
  r->hdr_len = hdr_len == VNET_HDR_LEN ? VNET_HDR_LEN : 0;
  r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->efd < 0) {
    int e = errno;
    free(r);
    return throw_errno(env, e, "eventfd", "reader");
  }
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  int u = uv_async_init(loop, &r->async, on_async);
  if (u < 0) {
    reader_free(r);
    return throw_errno(env, -u, "uv_async_init", "reader");
  }
  r->async.data = r;
  r->env = env;
  napi_value name, external;
  CHECK(env, napi_create_reference(env, argv[2], 1, &r->callback));
  CHECK(env, napi_create_string_utf8(env, "netstack:tap", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_async_init(env, NULL, name, &r->context));
  int e = pthread_create(&r->thread, NULL, reader_main, r);
  if (e != 0) {
    reader_close(r);
    r->finalized = 1; /* no external: libuv's close callback frees it */
    return throw_errno(env, e, "pthread_create", "reader thread");
  }
  r->started = 1;
  CHECK(env, napi_create_external(env, r, reader_finalize, NULL, &external));
  return external;
}

static napi_value tap_reader_feed(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  reader_t *r = get_reader(env, argv[0]);
  if (r == NULL) return NULL;
  uint8_t *buf;
  size_t len;
  if (!get_bytes(env, argv[1], &buf, &len)) return NULL;
  uint32_t ph = atomic_load(&r->phead);
  if (len < 2 * ((size_t)r->frame_max + 8 + r->hdr_len) || ph - atomic_load(&r->ptail) >= POOLS || r->closed) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "reader pool too small, too many pools, or reader closed");
    return NULL;
  }
  r->pools[ph % POOLS].ptr = buf;
  r->pools[ph % POOLS].len = len;
  atomic_store(&r->phead, ph + 1);
  if (atomic_load(&r->waiting)) {
    pthread_mutex_lock(&r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_cond_signal(&r->cv);
  }
  napi_value result;
  CHECK(env, napi_create_uint32(env, ph + 1 - atomic_load(&r->ptail), &result));
  return result;
}

static napi_value tap_reader_take(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  reader_t *r = get_reader(env, argv[0]);
  if (r == NULL) return NULL;
  uint32_t *arr[3];
  size_t cap = 0;
  for (int i = 0; i < 3; i++) {
    napi_typedarray_type type;
    size_t n, off;
    void *ptr;
    napi_value ab;
    if (napi_get_typedarray_info(env, argv[1 + i], &type, &n, &ptr, &ab, &off) != napi_ok ||
        type != napi_uint32_array) {
      napi_throw_type_error(env, NULL, "expected Uint32Arrays");
      return NULL;
    }
    arr[i] = ptr;
    cap = i == 0 || n < cap ? n : cap;
  }
  uint8_t *meta;
  size_t meta_len;
  if (!get_opt_bytes(env, argv[4], &meta, &meta_len)) return NULL;
  if (r->hdr_len && meta == NULL) {
    napi_throw_type_error(env, NULL, "a vnet reader needs a metadata buffer");
    return NULL;
  }
  if (r->hdr_len && meta_len / VNET_HDR_LEN < cap) cap = meta_len / VNET_HDR_LEN;
  uint32_t dt = atomic_load_explicit(&r->dtail, memory_order_relaxed);
  uint32_t dh = atomic_load(&r->dhead);
  uint32_t count = 0;
  while (dt != dh && count < cap) {
    desc_t *d = &r->desc[dt % DESC];
    if (r->hdr_len) memcpy(meta + count * VNET_HDR_LEN, d->hdr, VNET_HDR_LEN);
    arr[0][count] = d->seq;
    arr[1][count] = d->off;
    arr[2][count] = d->len;
    count++;
    dt++;
  }
  atomic_store(&r->dtail, dt);
  if (dt == dh) atomic_store(&r->taken_all, 1);
  if (count > 0 && atomic_load(&r->waiting)) {
    pthread_mutex_lock(&r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_cond_signal(&r->cv);
  }
  napi_value result;
  CHECK(env, napi_create_uint32(env, count, &result));
  return result;
}

static napi_value tap_reader_notify(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  reader_t *r = get_reader(env, argv[0]);
  if (r == NULL || r->closed) return NULL;
  atomic_store(&r->notified, 0);
  reader_wake_js(r);
  return NULL;
}

static napi_value tap_reader_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  reader_t *r = get_reader(env, argv[0]);
  if (r == NULL || r->closed) return NULL;
  bool on;
  CHECK(env, napi_get_value_bool(env, argv[1], &on));
  if (on) uv_ref((uv_handle_t *)&r->async);
  else uv_unref((uv_handle_t *)&r->async);
  return NULL;
}

static napi_value tap_reader_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  reader_t *r = get_reader(env, argv[0]);
  if (r == NULL) return NULL;
  reader_close(r);
  return NULL;
}

/* ---- polling ---- */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int closed;         /* uv_close called */
  int handle_closed;  /* libuv's close callback ran */
  int finalized;      /* the JS external was collected */
} poller_t;

/* `p` is freed once both libuv and the JS external are done with it. */
static void poller_free(uv_handle_t *h) {
  poller_t *p = h->data;
  p->handle_closed = 1;
  if (p->finalized) free(p);
}

static void poller_close(poller_t *p) {
  if (p->closed) return;
  p->closed = 1;
  uv_poll_stop(&p->poll);
  if (p->callback != NULL) napi_delete_reference(p->env, p->callback);
  p->callback = NULL;
  if (p->context != NULL) napi_async_destroy(p->env, p->context);
  p->context = NULL;
  uv_close((uv_handle_t *)&p->poll, poller_free);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  poller_t *p = handle->data;
  if (p->closed || p->callback == NULL) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  napi_create_int32(env, status, &arg);
  /* napi_make_callback runs the microtasks queued by the callback, as Node's own I/O does. */
  napi_status s = napi_make_callback(env, p->context, recv, cb, 1, &arg, &result);
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poller_t *p = data;
  p->finalized = 1;
  if (p->closed) {
    if (p->handle_closed) free(p);
    return;
  }
  /* Collected without closeFd: close the libuv handle (its callback frees `p`). The callback
     reference and async context go with the environment; no JS calls from here. */
  p->closed = 1;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, poller_free);
}

static poller_t *get_poller(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "expected a poll handle");
    return NULL;
  }
  return data;
}

static napi_value tap_poller(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  poller_t *p = calloc(1, sizeof *p);
  if (p == NULL) return throw_errno(env, ENOMEM, "calloc", "poll handle");
  int r = uv_poll_init(loop, &p->poll, fd);
  if (r < 0) {
    free(p);
    return throw_errno(env, -r, "uv_poll_init", "TAP device");
  }
  p->poll.data = p;
  p->env = env;
  napi_value name, external;
  CHECK(env, napi_create_reference(env, argv[1], 1, &p->callback));
  CHECK(env, napi_create_string_utf8(env, "netstack:tap", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_async_init(env, NULL, name, &p->context));
  CHECK(env, napi_create_external(env, p, poller_finalize, NULL, &external));
  return external;
}

static napi_value tap_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  poller_t *p = get_poller(env, argv[0]);
  if (p == NULL || p->closed) return NULL;
  int r = uv_poll_start(&p->poll, UV_READABLE, on_poll);
  if (r < 0) return throw_errno(env, -r, "uv_poll_start", "TAP device");
  return NULL;
}

static napi_value tap_poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  poller_t *p = get_poller(env, argv[0]);
  if (p == NULL || p->closed) return NULL;
  uv_poll_stop(&p->poll);
  return NULL;
}

static napi_value tap_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  poller_t *p = get_poller(env, argv[0]);
  if (p == NULL || p->closed) return NULL;
  bool on;
  CHECK(env, napi_get_value_bool(env, argv[1], &on));
  if (on) uv_ref((uv_handle_t *)&p->poll);
  else uv_unref((uv_handle_t *)&p->poll);
  return NULL;
}

static napi_value tap_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[1], &t));
  if (t == napi_external) {
    poller_t *p = get_poller(env, argv[1]);
    if (p == NULL) return NULL;
    /* Stop polling before the fd goes away; libuv frees the handle on a later loop turn. */
    poller_close(p);
  }
  if (close(fd) < 0) return throw_errno(env, errno, "close", "TAP device");
  return NULL;
}

/* ---- kernel-side helpers ---- */

static napi_value tap_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  struct ifreq ifr;
  if (!get_name(env, argv[0], ifr.ifr_name)) return NULL;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, errno, "socket", "AF_INET");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int err = errno;
    close(s);
    return throw_errno(env, err, "ioctl", "SIOCGIFFLAGS");
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
    int err = errno;
    close(s);
    return throw_errno(env, err, "ioctl", "SIOCSIFFLAGS");
  }
  close(s);
  return NULL;
}

static napi_value tap_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  struct ifreq ifr;
  if (!get_name(env, argv[0], ifr.ifr_name)) return NULL;
  int32_t mtu;
  CHECK(env, napi_get_value_int32(env, argv[1], &mtu));
  ifr.ifr_mtu = mtu;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, errno, "socket", "AF_INET");
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
    int err = errno;
    close(s);
    return throw_errno(env, err, "ioctl", "SIOCSIFMTU");
  }
  close(s);
  return NULL;
}

/* ---- the process heap ----
 *
 * Node's Buffers live in malloc'd memory. Received data handed to a stream arrives in Buffers
 * allocated per batch and freed by the garbage collector in bulk; glibc then returns the top of the
 * heap to the kernel (M_TRIM_THRESHOLD, 128 KiB by default) and the next allocations fault their pages
 * in again, zeroed by the kernel: one page fault per 4 KiB received. Raising the thresholds keeps
 * that memory in the process. */
static napi_value tap_keep_heap(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t trim, pad, mmap_min;
  CHECK(env, napi_get_value_int32(env, argv[0], &trim));
  CHECK(env, napi_get_value_int32(env, argv[1], &pad));
  CHECK(env, napi_get_value_int32(env, argv[2], &mmap_min));
  bool ok = false;
#ifdef __GLIBC__
  if (trim >= 0 && pad >= 0 && mmap_min >= 0)
    ok = mallopt(M_TRIM_THRESHOLD, trim) == 1 && mallopt(M_TOP_PAD, pad) == 1 &&
         mallopt(M_MMAP_THRESHOLD, mmap_min) == 1;
#endif
  napi_value result;
  CHECK(env, napi_get_boolean(env, ok, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"read", NULL, tap_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writer", NULL, tap_writer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writerSend", NULL, tap_writer_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writerStats", NULL, tap_writer_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writerClose", NULL, tap_writer_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reader", NULL, tap_reader, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerFeed", NULL, tap_reader_feed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerTake", NULL, tap_reader_take, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerNotify", NULL, tap_reader_notify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerRef", NULL, tap_reader_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerClose", NULL, tap_reader_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poller", NULL, tap_poller, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, tap_poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStop", NULL, tap_poll_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, tap_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, tap_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setUp", NULL, tap_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMtu", NULL, tap_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"keepHeap", NULL, tap_keep_heap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(netstack_tap, init)
