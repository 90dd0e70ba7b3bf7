/* Token buckets per client address (see ratelimit.h for the exactness). */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_PROBE 8
#define MS_PER_MIN 60000

/* Tokens are counted in units of 1/60000: a bucket of N per minute gains
 * exactly N units a millisecond and an upload costs 60000, so integer
 * arithmetic is exact. */
struct rl_slot {
	unsigned char key[16];
	bool used;
	int64_t t_ms;            /* when tokens was last brought up to date */
	uint64_t tokens;         /* in units, at most per_minute * 60000 */
};

struct ratelimit {
	pthread_mutex_t lock;
	unsigned per_minute;
	struct rl_slot slot[RL_SLOTS];
};

struct ratelimit *rl_new(unsigned per_minute)
{
	if (per_minute == 0)
		return NULL;
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	pthread_mutex_init(&rl->lock, NULL);
	rl->per_minute = per_minute;
	return rl;
}

void rl_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

/* The key of an address: IPv4 as a mapped address, IPv6 by its /64. Text
 * that is no address (never from a socket) is hashed as it is. */
static void make_key(const char *addr, unsigned char key[16])
{
	memset(key, 0, 16);
	unsigned char a[16];
	if (inet_pton(AF_INET, addr, a) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, a, 4);
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		memcpy(key, a, 8);
	} else {
		for (size_t i = 0; addr[i]; i++)
			key[i % 16] = (unsigned char)(key[i % 16] * 31 + (unsigned char)addr[i]);
	}
}

static uint32_t key_hash(const unsigned char key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

/* Brings s's tokens up to now. */
static void refill(const struct ratelimit *rl, struct rl_slot *s, int64_t now_ms)
{
	uint64_t full = (uint64_t)rl->per_minute * MS_PER_MIN;
	if (now_ms > s->t_ms) {
		uint64_t gain = (uint64_t)(now_ms - s->t_ms) * rl->per_minute;
		s->tokens = gain >= full - s->tokens ? full : s->tokens + gain;
		s->t_ms = now_ms;
	}
}

/* The slot of key: its own, else a free one, else the one with the most
 * tokens (a full bucket is as good as new; otherwise the address that
 * used the least of its allowance lately is forgotten). */
static struct rl_slot *find_slot(struct ratelimit *rl, const unsigned char key[16], int64_t now_ms)
{
	uint32_t h = key_hash(key);
	struct rl_slot *victim = NULL;
	for (int i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &rl->slot[(h + (uint32_t)i) % RL_SLOTS];
		if (s->used && memcmp(s->key, key, 16) == 0)
			return s;
		if (victim && !victim->used)
			continue;
		if (!s->used) {
			victim = s;
			continue;
		}
		refill(rl, s, now_ms);
		if (victim == NULL || s->tokens > victim->tokens)
			victim = s;
	}
	memcpy(victim->key, key, 16);
	victim->used = true;
	victim->t_ms = now_ms;
	victim->tokens = (uint64_t)rl->per_minute * MS_PER_MIN;
	return victim;
}

bool rl_take(struct ratelimit *rl, const char *addr, int64_t now_ms, unsigned *retry_s)
{
	unsigned char key[16];
	make_key(addr, key);
	pthread_mutex_lock(&rl->lock);
	struct rl_slot *s = find_slot(rl, key, now_ms);
	refill(rl, s, now_ms);
	bool ok = s->tokens >= MS_PER_MIN;
	if (ok) {
		s->tokens -= MS_PER_MIN;
	} else {
		uint64_t ms = (MS_PER_MIN - s->tokens + rl->per_minute - 1) / rl->per_minute;
		*retry_s = (unsigned)((ms + 999) / 1000);
		if (*retry_s == 0)
			*retry_s = 1;
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
