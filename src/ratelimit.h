/* --upload-rate: a token bucket per client address, N uploads a minute.
 *
 * One table shared by all workers, behind a mutex. Per-worker tables
 * would need no lock, but a client's connections are spread over the
 * workers (by the kernel's SO_REUSEPORT hash or the accept hand-off), so
 * a client could get up to N times the thread count; the lock is taken
 * once per upload, next to an fsync, and costs nothing in comparison.
 * Exact within one process: every upload of an address takes from the
 * same bucket. IPv6 clients are counted per /64 (one host can own a whole
 * /64). The table is bounded (RL_SLOTS addresses); when it is full the
 * address with the most tokens left is forgotten, so only with more than that
 * many addresses uploading within a minute does an address get a fresh
 * bucket early. Several instances sharing a port each keep their own
 * table. */
#ifndef MTHTTPD_RATELIMIT_H
#define MTHTTPD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RL_SLOTS 4096

struct ratelimit;

/* A limiter of per_minute (>= 1) events per address and minute, with a
 * burst of per_minute. Returns NULL when out of memory; free with
 * rl_free. */
struct ratelimit *rl_new(unsigned per_minute);
void rl_free(struct ratelimit *rl);

/* Takes one token for the address addr (IPv4 or IPv6 text, as logged) at
 * now_ms (a monotonic clock). Returns true when allowed; false when the
 * bucket is empty, with *retry_s the whole seconds until a token is back
 * (at least 1). Thread-safe. */
bool rl_take(struct ratelimit *rl, const char *addr, int64_t now_ms, unsigned *retry_s);

#endif
