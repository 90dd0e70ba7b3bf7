/* Counters for --metrics, in the Prometheus text format. Each worker owns
 * one struct metrics and is its only writer: an increment is a relaxed
 * load and store (no locked instruction on the request path), and a scrape
 * sums every worker's with relaxed loads. */
#ifndef MTHTTPD_METRICS_H
#define MTHTTPD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { MX_GET, MX_HEAD, MX_POST, MX_OPTIONS, MX_OTHER, MX_METHODS };
#define MX_CLASSES 5   /* 1xx .. 5xx */
#define MX_LAT_BUCKETS 11

typedef _Atomic uint64_t mx_counter;

struct metrics {
	mx_counter requests[MX_METHODS][MX_CLASSES];
	mx_counter response_bytes;
	mx_counter conns_accepted, conns_refused, keepalive_reuse;
	mx_counter uploads_stored, uploads_refused, uploads_failed, upload_bytes;
	mx_counter commit_le[MX_LAT_BUCKETS]; /* upload commits, cumulative by bucket */
	mx_counter commit_count, commit_us_sum;
	mx_counter cache_hits, cache_misses, inotify_overflows;
};

/* One more (single writer per struct). */
static inline void mx_add(mx_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* The method's index for requests[][] from its name. */
int mx_method(const char *m, size_t n);

/* Records one upload commit that took us microseconds. */
void mx_commit(struct metrics *m, uint64_t us);

/* Sets the process start time, and the number of workers whose metrics a
 * scrape sums. Call before the workers start. */
void metrics_init(int workers);

/* Worker i's metrics (zeroed), for it to write to. */
struct metrics *metrics_of(int i);

/* Writes the whole scrape into buf (cap bytes); open_conns is the gauge
 * of open connections. Returns the length, or 0 when it does not fit. */
size_t metrics_render(char *buf, size_t cap, long open_conns);

#endif
