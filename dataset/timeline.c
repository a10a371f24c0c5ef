/*
 * The history's shape in dataset/: the collected lines grouped by order (in place when the
 * files have them together), and the event-time timeline of SPEC §2 (orders by user and
 * order_number, event times, the time-ordered list).
 */
#include "dataset/dataset_int.h"

#include <pthread.h>
#include <string.h>

/* Indexes h->lines by order if each order's lines are together and in add_to_cart order (as
 * the files have them); returns 0, with the index half-built, if they are not. */
static int index_runs(struct ds_history *h)
{
	uint32_t prev = 0;
	for (uint64_t i = 0; i < h->n_lines; i++) {
		const struct ds_line *l = &h->lines[i];
		struct ds_order *o = &h->orders[l->order_id];
		if (l->order_id != prev) {
			if (o->n_lines)
				return 0; /* the order's lines are apart */
			o->first_line = (uint32_t)i;
			prev = l->order_id;
		} else if (l->add_to_cart < h->lines[i - 1].add_to_cart || o->n_lines == UINT16_MAX) {
			return 0;
		}
		o->n_lines++;
	}
	return 1;
}

/* Groups lines by order (counting sort), each order's lines by add_to_cart_order (stable). */
static int sort_by_order(struct ds_history *h)
{
	struct ds_line *grouped = malloc((h->n_lines ? h->n_lines : 1) * sizeof *grouped);
	if (!grouped)
		return DS_NOMEM;
	for (size_t id = 0; id < h->cap; id++)
		h->orders[id].n_lines = 0;
	for (uint64_t i = 0; i < h->n_lines; i++)
		h->orders[h->lines[i].order_id].n_lines++;
	uint64_t next = 0;
	for (size_t id = 0; id < h->cap; id++) {
		h->orders[id].first_line = (uint32_t)next;
		next += h->orders[id].n_lines;
		h->orders[id].n_lines = 0;
	}
	for (uint64_t i = 0; i < h->n_lines; i++) {
		const struct ds_line *l = &h->lines[i];
		struct ds_order *o = &h->orders[l->order_id];
		struct ds_line *dst = &grouped[o->first_line];
		/* insertion by add_to_cart: files are nearly always in order already */
		uint16_t k = o->n_lines++;
		while (k > 0 && dst[k - 1].add_to_cart > l->add_to_cart) {
			dst[k] = dst[k - 1];
			k--;
		}
		dst[k] = *l;
	}
	free(h->lines);
	h->lines = grouped;
	return DS_OK;
}

int ds_history_group(struct ds_history *h, struct ds_line_set *sets, int n_sets)
{
	uint64_t total = 0;
	for (int s = 0; s < n_sets; s++) {
		total += sets[s].n;
		h->orphan_lines += sets[s].orphans;
	}
	/* The sets one after the other, in the first set's memory (grown in place when it can be). */
	struct ds_line *all = realloc(n_sets > 0 ? sets[0].lines : NULL, (total ? total : 1) * sizeof *all);
	int rc = all ? DS_OK : DS_NOMEM;
	if (all) {
		uint64_t at = 0;
		for (int s = 0; s < n_sets; s++) {
			if (s > 0 && sets[s].n)
				memcpy(all + at, sets[s].lines, sets[s].n * sizeof *all);
			at += sets[s].n;
		}
		if (n_sets > 0)
			sets[0].lines = NULL; /* now all */
		h->lines = all;
		h->n_lines = total;
	}
	for (int s = 0; s < n_sets; s++)
		ds_line_set_free(&sets[s]);
	if (rc == DS_OK && !index_runs(h))
		rc = sort_by_order(h);
	return rc;
}
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

struct timed {
	int64_t t;
	uint32_t user;
	uint16_t number;
	uint32_t order_id;
};

static int compare_time(const void *a, const void *b)
{
	const struct timed *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return (x->number > y->number) - (x->number < y->number);
}

/* Sorts by (user, order_number) in linear time: users are buckets (ids are dense), and a
 * user's few orders are put in order by insertion within the bucket. */
static int sort_by_user_number(struct timed *all, uint64_t n)
{
	uint32_t max_user = 0;
	for (uint64_t i = 0; i < n; i++)
		if (all[i].user > max_user)
			max_user = all[i].user;
	uint64_t *begin = calloc((size_t)max_user + 2, sizeof *begin); /* bucket of user u: [begin[u], begin[u+1]) */
	uint64_t *next = malloc(((size_t)max_user + 2) * sizeof *next);
	struct timed *out = malloc((n ? n : 1) * sizeof *out);
	if (!begin || !next || !out) {
		free(begin);
		free(next);
		free(out);
		return DS_NOMEM;
	}
	for (uint64_t i = 0; i < n; i++)
		begin[all[i].user + 1]++;
	for (uint32_t u = 1; u <= max_user + 1; u++)
		begin[u] += begin[u - 1];
	memcpy(next, begin, ((size_t)max_user + 2) * sizeof *next);
	for (uint64_t i = 0; i < n; i++) {
		struct timed t = all[i];
		uint64_t k = next[t.user]++;
		while (k > begin[t.user] && out[k - 1].number > t.number) {
			out[k] = out[k - 1];
			k--;
		}
		out[k] = t;
	}
	memcpy(all, out, n * sizeof *all);
	free(out);
	free(next);
	free(begin);
	return DS_OK;
}

/* Whether by_user[from, to) is by (user_id, order_number), each pair after the one before it. */
static int in_user_order(const struct ds_history *h, uint64_t from, uint64_t to)
{
	for (uint64_t i = from + 1; i < to; i++) {
		if (i + DS__PREFETCH_AHEAD < to)
			__builtin_prefetch(&h->orders[h->by_user[i + DS__PREFETCH_AHEAD]]);
		const struct ds_order *a = &h->orders[h->by_user[i - 1]], *b = &h->orders[h->by_user[i]];
		if (a->user_id > b->user_id || (a->user_id == b->user_id && a->order_number >= b->order_number))
			return 0;
	}
	return 1;
}

/* A share of the timeline's work: orders [from, to) of the walk by user, starting at a user's
 * first order. */
struct times_job {
	struct ds_history *h;
	const struct ds_customers *customers;
	struct timed *all; /* NULL: the walk is by_user (as orders.csv has it) */
	uint64_t from, to;
	int check; /* 1: only say whether by_user[from - 1, to) is in user order (into ok) */
	int ok;
	uint64_t n_users, users_without_customer;
};

/* Event times of the orders of the job's share (see ds_history_build_timeline). */
static void *times_of(void *arg)
{
	struct times_job *j = arg;
	struct ds_history *h = j->h;
	if (j->check) {
		j->ok = in_user_order(h, j->from ? j->from - 1 : 0, j->to);
		return NULL;
	}
	const int32_t first_day = 17167; /* 2017-01-01 */
	const int32_t span_days = 1186;  /* to 2020-04-01, the range of date_joined */
	const uint32_t *ids = h->by_user;
	int64_t day = 0, prev_t = 0;
	uint32_t prev_user = 0;
	for (uint64_t i = j->from; i < j->to; i++) {
		uint32_t id = j->all ? j->all[i].order_id : ids[i];
		if (i + DS__PREFETCH_AHEAD < j->to)
			__builtin_prefetch(
			    &h->orders[j->all ? j->all[i + DS__PREFETCH_AHEAD].order_id : ids[i + DS__PREFETCH_AHEAD]]);
		struct ds_order *o = &h->orders[id];
		int same_user = i > j->from && o->user_id == prev_user;
		if (!same_user) {
			const struct ds_customer *c = ds_customer_find(j->customers, o->user_id);
			day = c ? c->joined_day : first_day + (int32_t)(mix32(o->user_id) % (uint32_t)span_days);
			j->n_users++;
			j->users_without_customer += c == NULL;
		} else if (o->days > 0) {
			day += o->days;
		}
		int64_t t = (day * 24 + o->hour) * 3600000LL;
		/* Same-day orders can be at an earlier hour: keep each user's orders in order. */
		if (same_user && t < prev_t)
			t = prev_t;
		o->event_time_ms = t;
		prev_t = t;
		prev_user = o->user_id;
		if (j->all) {
			j->all[i].t = t;
			h->by_user[i] = id;
		}
	}
	return NULL;
}

/*
 * Runs jobs[0] on this thread and jobs[1] on another (on this one too if it cannot start). The
 * shares are disjoint: each writes only its own orders and all[] entries.
 */
static void run_two(struct times_job *jobs)
{
	pthread_t t;
	int started = pthread_create(&t, NULL, times_of, &jobs[1]) == 0;
	times_of(&jobs[0]);
	if (started)
		pthread_join(t, NULL);
	else
		times_of(&jobs[1]);
}

int ds_history_build_timeline(struct ds_history *h, const struct ds_customers *customers, int time_order)
{
	/* orders.csv's order (in by_user until now) is by (user_id, order_number) in Kaggle's file
	 * and the generator's: then it is the walk as it is, checked on two threads. */
	int file_order = h->by_user && h->n_by_user == h->n_orders;
	struct times_job jobs[2] = {
		{ .h = h, .customers = customers, .check = 1, .to = h->n_by_user / 2 },
		{ .h = h, .customers = customers, .check = 1, .from = h->n_by_user / 2, .to = h->n_by_user }
	};
	if (file_order) {
		run_two(jobs);
		file_order = jobs[0].ok && jobs[1].ok;
	}
	/* all[] is the walk by (user, order_number) with the event times: to sort it by time, or when
	 * by_user is not that walk yet. */
	struct timed *all = NULL;
	uint64_t n = file_order ? h->n_by_user : 0;
	if (!file_order || time_order) {
		all = malloc((h->n_orders ? h->n_orders : 1) * sizeof *all);
		if (!all)
			return DS_NOMEM;
	}
	if (file_order && all) {
		for (uint64_t i = 0; i < n; i++) {
			if (i + DS__PREFETCH_AHEAD < n)
				__builtin_prefetch(&h->orders[h->by_user[i + DS__PREFETCH_AHEAD]]);
			uint32_t id = h->by_user[i];
			all[i] = (struct timed){ 0, h->orders[id].user_id, h->orders[id].order_number, id };
		}
	} else if (!file_order) {
		for (size_t id = 0; id < h->cap; id++)
			if (h->orders[id].user_id)
				all[n++] = (struct timed){ 0, h->orders[id].user_id, h->orders[id].order_number,
							   (uint32_t)id };
		if (sort_by_user_number(all, n) != DS_OK) {
			free(all);
			return DS_NOMEM;
		}
	}
	if (h->cap_by_user < n) {
		free(h->by_user);
		h->by_user = malloc((n ? n : 1) * sizeof *h->by_user);
		h->cap_by_user = h->by_user ? n : 0;
		if (!h->by_user) {
			h->n_by_user = 0;
			free(all);
			return DS_NOMEM;
		}
	}
	/* Two shares, split at a user's first order: a user's times depend on their orders alone. */
	uint64_t mid = n / 2;
	while (mid > 0 && mid < n &&
	       (all ? all[mid].user == all[mid - 1].user
		    : h->orders[h->by_user[mid]].user_id == h->orders[h->by_user[mid - 1]].user_id))
		mid++;
	jobs[0] = (struct times_job){ .h = h, .customers = customers, .all = all, .from = 0, .to = mid };
	jobs[1] = (struct times_job){ .h = h, .customers = customers, .all = all, .from = mid, .to = n };
	run_two(jobs);
	h->n_users = jobs[0].n_users + jobs[1].n_users;
	h->users_without_customer = jobs[0].users_without_customer + jobs[1].users_without_customer;
	h->n_by_user = n;
	h->n_timeline = 0;
	if (time_order) {
		qsort(all, n, sizeof *all, compare_time);
		free(h->timeline);
		h->timeline = malloc((n ? n : 1) * sizeof *h->timeline);
		if (!h->timeline) {
			free(all);
			return DS_NOMEM;
		}
		for (uint64_t i = 0; i < n; i++)
			if (h->orders[all[i].order_id].n_lines)
				h->timeline[h->n_timeline++] = all[i].order_id;
	}
	free(all);
	return DS_OK;
}

void ds_history_free(struct ds_history *h)
{
	if (!h)
		return;
	free(h->orders);
	free(h->lines);
	free(h->timeline);
	free(h->by_user);
	free(h->rejected_orders);
	memset(h, 0, sizeof *h);
}
