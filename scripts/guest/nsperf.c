/*
 * nsperf: the traffic generator of `npm run bench:gateway`, built statically by
 * scripts/guest/build.mjs and run both in the test guest (client) and on the host (server).
 *
 *   nsperf server PORT                      serve every test below on [::]:PORT (IPv4 too)
 *   nsperf download HOST PORT BYTES         the server sends BYTES, the client counts them
 *   nsperf upload HOST PORT BYTES           the client sends BYTES, the server acknowledges the last
 *   nsperf rr HOST PORT SECONDS [SIZE]      request/response of SIZE bytes (default 1) over one
 *                                           connection, one at a time (netperf's TCP_RR)
 *   nsperf crr HOST PORT SECONDS            connect, one-byte request/response, close (TCP_CRR)
 *
 * HOST is a numeric IPv4 or IPv6 address. A client prints one line of key=value pairs:
 *   bytes=N seconds=S mbit_per_s=R          (download, upload)
 *   transactions=N seconds=S per_s=R us=U   (rr, crr; U is the mean time of one transaction)
 * and exits 0, or prints the failing call on stderr and exits 1.
 *
 * The protocol: the client's first line names the test ("D BYTES\n", "U BYTES\n", "R SIZE\n",
 * "C\n"); the server then sends BYTES and closes (D), reads BYTES then writes "K" (U), echoes
 * SIZE-byte messages until end of stream (R), or writes one byte and closes (C).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "nsperf: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Read exactly n bytes; 0 on success, -1 on error or early end of stream. */
static int read_all(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Read one line (up to 63 bytes) byte by byte, so nothing after it is consumed. */
static int read_line(int fd, char *line, size_t cap) {
  size_t i = 0;
  while (i + 1 < cap) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (c == '\n') break;
    line[i++] = c;
  }
  line[i] = 0;
  return 0;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void *serve_one(void *arg) {
  int fd = (int)(intptr_t)arg;
  char line[64];
  char *own = NULL;
  if (read_line(fd, line, sizeof line) < 0) goto out;
  if (line[0] == 'D') {
    unsigned long long left = strtoull(line + 2, NULL, 10);
    own = calloc(1, CHUNK);
    while (left > 0) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      if (write_all(fd, own, n) < 0) goto out;
      left -= n;
    }
  } else if (line[0] == 'U') {
    unsigned long long left = strtoull(line + 2, NULL, 10);
    own = malloc(CHUNK);
    while (left > 0) {
      ssize_t r = read(fd, own, left < CHUNK ? (size_t)left : CHUNK);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) goto out;
      left -= (unsigned long long)r;
    }
    write_all(fd, "K", 1);
  } else if (line[0] == 'R') {
    size_t size = (size_t)strtoul(line + 2, NULL, 10);
    if (size == 0 || size > CHUNK) goto out;
    nodelay(fd);
    own = malloc(size);
    while (read_all(fd, own, size) == 0) {
      if (write_all(fd, own, size) < 0) break;
    }
  } else if (line[0] == 'C') {
    nodelay(fd);
    write_all(fd, "c", 1);
  }
out:
  free(own);
  close(fd);
  return NULL;
}

static int server(int port) __attribute__((noreturn));
static int server(int port) {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) die("socket");
  int one = 1, zero = 0;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons((uint16_t)port);
  a.sin6_addr = in6addr_any;
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(s, 1024) < 0) die("listen");
  printf("nsperf: listening on port %d\n", port);
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die("accept");
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    if (pthread_create(&t, &at, serve_one, (void *)(intptr_t)c) != 0) close(c);
    pthread_attr_destroy(&at);
  }
}

static struct sockaddr_storage peer;
static socklen_t peer_len;

static void parse_peer(const char *host, const char *port) {
  memset(&peer, 0, sizeof peer);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&peer;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&peer;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)atoi(port));
    peer_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)atoi(port));
    peer_len = sizeof *a6;
  } else {
    fprintf(stderr, "nsperf: %s is not a numeric IPv4 or IPv6 address\n", host);
    exit(2);
  }
}

static int dial(const char *hello) {
  int fd = socket(peer.ss_family, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&peer, peer_len) < 0) die("connect");
  if (write_all(fd, hello, strlen(hello)) < 0) die("write");
  return fd;
}

static void report_bytes(unsigned long long n, double secs) {
  printf("bytes=%llu seconds=%.6f mbit_per_s=%.3f\n", n, secs, secs > 0 ? (double)n * 8 / secs / 1e6 : 0);
}

static void report_tx(unsigned long n, double secs) {
  printf("transactions=%lu seconds=%.6f per_s=%.3f us=%.3f\n", n, secs, secs > 0 ? (double)n / secs : 0,
         n > 0 ? secs * 1e6 / (double)n : 0);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 3 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]));
  if (argc < 5) {
    fprintf(stderr, "usage: nsperf server PORT | download|upload HOST PORT BYTES | rr|crr HOST PORT SECONDS [SIZE]\n");
    return 2;
  }
  const char *op = argv[1];
  parse_peer(argv[2], argv[3]);
  char hello[64];
  if (strcmp(op, "download") == 0 || strcmp(op, "upload") == 0) {
    unsigned long long total = strtoull(argv[4], NULL, 10);
    int up = op[0] == 'u';
    char *buf = calloc(1, CHUNK);
    snprintf(hello, sizeof hello, "%c %llu\n", up ? 'U' : 'D', total);
    double t0 = now();
    int fd = dial(hello);
    unsigned long long got = 0;
    if (up) {
      unsigned long long left = total;
      while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        if (write_all(fd, buf, n) < 0) die("write");
        left -= n;
      }
      char k;
      if (read_all(fd, &k, 1) < 0) die("read acknowledgement");
      got = total;
    } else {
      for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        if (r == 0) break;
        got += (unsigned long long)r;
      }
      if (got != total) {
        fprintf(stderr, "nsperf: received %llu of %llu bytes\n", got, total);
        return 1;
      }
    }
    double secs = now() - t0;
    close(fd);
    report_bytes(got, secs);
    return 0;
  }
  double dur = atof(argv[4]);
  if (strcmp(op, "rr") == 0) {
    size_t size = argc > 5 ? (size_t)atoi(argv[5]) : 1;
    if (size == 0 || size > CHUNK) {
      fprintf(stderr, "nsperf: SIZE must be 1..%d\n", CHUNK);
      return 2;
    }
    char *buf = calloc(1, size);
    snprintf(hello, sizeof hello, "R %zu\n", size);
    int fd = dial(hello);
    nodelay(fd);
    unsigned long n = 0;
    double t0 = now(), t = t0;
    while (t - t0 < dur) {
      if (write_all(fd, buf, size) < 0) die("write");
      if (read_all(fd, buf, size) < 0) die("read");
      n++;
      t = now();
    }
    close(fd);
    report_tx(n, t - t0);
    return 0;
  }
  if (strcmp(op, "crr") == 0) {
    unsigned long n = 0;
    double t0 = now(), t = t0;
    while (t - t0 < dur) {
      int fd = dial("C\n");
      char c;
      if (read_all(fd, &c, 1) < 0) die("read");
      close(fd);
      n++;
      t = now();
    }
    report_tx(n, t - t0);
    return 0;
  }
  fprintf(stderr, "nsperf: unknown test '%s'\n", op);
  return 2;
}
