/* libFuzzer target: the reference-record decoders (products and customers topics). The first
 * byte picks the decoder; a decoded record must encode again and decode to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	uint8_t buf[256];
	size_t len;
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct event_customer c, again;
		memset(&c, 0, sizeof c);
		memset(&again, 0, sizeof again);
		if (event_customer_decode(data + 1, size - 1, &c, why, sizeof why) != EVENT_OK)
			return 0;
		if (event_customer_encode(&c, buf, sizeof buf, &len) != EVENT_OK ||
		    event_customer_decode(buf, len, &again, why, sizeof why) != EVENT_OK ||
		    memcmp(&c, &again, sizeof c) != 0)
			abort();
	} else {
		struct event_product p, again;
		memset(&p, 0, sizeof p);
		memset(&again, 0, sizeof again);
		if (event_product_decode(data + 1, size - 1, &p, why, sizeof why) != EVENT_OK)
			return 0;
		if (event_product_encode(&p, buf, sizeof buf, &len) != EVENT_OK ||
		    event_product_decode(buf, len, &again, why, sizeof why) != EVENT_OK ||
		    memcmp(&p, &again, sizeof p) != 0)
			abort();
	}
	return 0;
}
