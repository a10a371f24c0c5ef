/* libFuzzer target: the customer record decoder of the state (state_customer_decode). A decoded
 * record must encode (as the current version) and decode to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_customer c, again;
	uint8_t buf[STATE_RECORD_MAX];
	size_t len;
	memset(&c, 0, sizeof c);
	memset(&again, 0, sizeof again);
	if (state_customer_decode(data, size, &c) != STATE_OK)
		return 0;
	if (state_customer_encode(&c, buf, sizeof buf, &len) != STATE_OK ||
	    state_customer_decode(buf, len, &again) != STATE_OK || memcmp(&c, &again, sizeof c) != 0)
		abort();
	return 0;
}
