/* libFuzzer target: the decoders of the events topic's payloads, both schema versions
 * (event_decode, event_message_decode). A decoded event must be valid, encode again, and decode
 * to the same event (the codec is a round trip); a decoded order's valid lines must encode as
 * an order and decode to the same events, and each refused line's dead letter must decode to
 * that line alone, refused again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_line lines[EVENT_ORDER_LINES_MAX], again_lines[EVENT_ORDER_LINES_MAX];
static struct event good[EVENT_ORDER_LINES_MAX];
static uint8_t buf[EVENT_ORDER_ENCODED_MAX];

/* The fields of two events (padding aside). */
static int same_event(const struct event *a, const struct event *b)
{
	return a->user_id == b->user_id && a->order_id == b->order_id && a->product_id == b->product_id &&
	       a->order_number == b->order_number && a->add_to_cart_order == b->add_to_cart_order &&
	       a->order_dow == b->order_dow && a->order_hour == b->order_hour &&
	       a->days_since_prior == b->days_since_prior && a->reordered == b->reordered &&
	       a->eval_set == b->eval_set && a->event_time_ms == b->event_time_ms;
}

static void messages(const uint8_t *data, size_t size)
{
	size_t n = 0, n_good = 0, len = 0, again = 0;
	char why[256];
	if (event_message_decode(data, size, lines, EVENT_ORDER_LINES_MAX, &n, why, sizeof why) != EVENT_OK)
		return;
	if (n < 1 || n > EVENT_ORDER_LINES_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (lines[i].rc == EVENT_OK) {
			if (event_validate(&lines[i].ev, why, sizeof why) != EVENT_OK)
				abort();
			good[n_good++] = lines[i].ev;
			continue;
		}
		if (lines[i].rc != EVENT_RANGE || lines[i].off == 0)
			abort(); /* only an order's line is refused alone */
		if (event_order_line_extract(data, size, &lines[i], buf, sizeof buf, &len) != EVENT_OK ||
		    event_message_decode(buf, len, again_lines, 1, &again, why, sizeof why) != EVENT_OK || again != 1 ||
		    again_lines[0].rc != EVENT_RANGE)
			abort();
	}
	if (n_good == 0 || lines[0].off == 0) /* version 1: the other round trip */
		return;
	if (event_order_encode(good, n_good, buf, sizeof buf, &len) != EVENT_OK ||
	    event_message_decode(buf, len, again_lines, EVENT_ORDER_LINES_MAX, &again, why, sizeof why) != EVENT_OK ||
	    again != n_good)
		abort();
	for (size_t i = 0; i < n_good; i++)
		if (again_lines[i].rc != EVENT_OK || !same_event(&good[i], &again_lines[i].ev))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev, again;
	char why[256];
	size_t len;
	memset(&ev, 0, sizeof ev); /* padding too: the round trip compares the bytes */
	memset(&again, 0, sizeof again);
	messages(data, size);
	if (event_decode(data, size, &ev, why, sizeof why) != EVENT_OK)
		return 0;
	if (event_validate(&ev, why, sizeof why) != EVENT_OK || event_encode(&ev, buf, sizeof buf, &len) != EVENT_OK ||
	    event_decode(buf, len, &again, why, sizeof why) != EVENT_OK || memcmp(&ev, &again, sizeof ev) != 0)
		abort();
	return 0;
}
