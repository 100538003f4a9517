/*
 * netstack TAP addon (Node-API, C): Linux TAP devices for src/node/tap.ts.
 *
 *   open(name)                        -> { fd, name }     open /dev/net/tun, TUNSETIFF IFF_TAP|IFF_NO_PI,
 *                                                          non-blocking, close-on-exec
 *   read(fd, buf, lens, frameMax)     -> count            read frames until EAGAIN, `lens` full, or less than
 *                                                          `frameMax` bytes left in `buf`; frame i is at the
 *                                                          sum of lens[0..i) rounded up to 8 bytes each
 *   write(fd, buf, off, len)          -> bytes or -errno  one frame
 *   poller(fd, callback)              -> handle           libuv poll handle (stopped); callback(status) on
 *                                                          readable (status 0) or error (negative errno)
 *   pollStart(h) / pollStop(h)        backpressure: poll or not
 *   ref(h) / unref(h)                 whether the handle keeps the event loop alive
 *   closeFd(fd, h | null)             stop polling, close the fd (the handle is freed by libuv later)
 *   setUp(name), setMtu(name, mtu)    SIOCSIFFLAGS IFF_UP / SIOCSIFMTU on the kernel side
 *
 * Errors are thrown as Error objects with `code` (e.g. "EPERM"), `errno` (negative) and `syscall`.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

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

static napi_value tap_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  char name[IFNAMSIZ];
  if (!get_name(env, argv[0], name)) return NULL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", "/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "ioctl", "TUNSETIFF");
  }
  napi_value result, fd_v, name_v;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_int32(env, fd, &fd_v));
  CHECK(env, napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_v));
  CHECK(env, napi_set_named_property(env, result, "fd", fd_v));
  CHECK(env, napi_set_named_property(env, result, "name", name_v));
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

static napi_value tap_read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd, frame_max;
  uint8_t *buf;
  size_t buf_len;
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
  uint32_t *lens = lens_ptr;
  size_t off = 0, count = 0;
  while (count < nlens && buf_len - off >= (size_t)frame_max) {
    ssize_t n = read(fd, buf + off, (size_t)frame_max);
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

static napi_value tap_write(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t fd, off, len;
  uint8_t *buf;
  size_t buf_len;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  if (!get_bytes(env, argv[1], &buf, &buf_len)) return NULL;
  CHECK(env, napi_get_value_int32(env, argv[2], &off));
  CHECK(env, napi_get_value_int32(env, argv[3], &len));
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > buf_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "write range outside the buffer");
    return NULL;
  }
  ssize_t n;
  do {
    n = write(fd, buf + off, (size_t)len);
  } while (n < 0 && errno == EINTR);
  napi_value result;
  CHECK(env, napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result));
  return result;
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, tap_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"read", NULL, tap_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, tap_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poller", NULL, tap_poller, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, tap_poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStop", NULL, tap_poll_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, tap_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, tap_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setUp", NULL, tap_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMtu", NULL, tap_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(netstack_tap, init)
