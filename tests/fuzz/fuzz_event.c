/* libFuzzer target: the order-product event decoder (event_decode). A decoded event must be
 * valid, encode again, and decode to the same event (the codec is a round trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev, again;
	char why[256];
	uint8_t buf[EVENT_ENCODED_MAX];
	size_t len;
	memset(&ev, 0, sizeof ev); /* padding too: the round trip compares the bytes */
	memset(&again, 0, sizeof again);
	if (event_decode(data, size, &ev, why, sizeof why) != EVENT_OK)
		return 0;
	if (event_validate(&ev, why, sizeof why) != EVENT_OK || event_encode(&ev, buf, sizeof buf, &len) != EVENT_OK ||
	    event_decode(buf, len, &again, why, sizeof why) != EVENT_OK || memcmp(&ev, &again, sizeof ev) != 0)
		abort();
	return 0;
}
