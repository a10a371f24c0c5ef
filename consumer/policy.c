/*
 * The loop's pure decisions (consumer.h): when the open batch is committed (the loop gathers what
 * it knows into a struct cons_batch_view), and what a message's offset means (cons_offset_check).
 */
#include "consumer/consumer.h"

int cons_batch_due(const struct cons_config *cfg, const struct cons_batch_view *v)
{
	if (v->events <= 0)
		return 0;
	if (v->events >= cfg->batch_max_events || v->age_ms >= cfg->batch_max_ms || v->exit_ready)
		return 1;
	if (v->lag < 0 || v->lag > cfg->live_lag_events)
		return 0; /* behind: a catch-up batch */
	return v->drained || v->age_ms >= cfg->batch_live_ms;
}

enum cons_offset_action cons_offset_check(struct cons_offset_gap *gap, int64_t next, int64_t offset)
{
	if (next < 0 || offset == next)
		return CONS_OFFSET_APPLY;
	if (offset < next)
		return CONS_OFFSET_REPEAT;
	if (gap->accepted >= CONS_OFFSET_GAPS_TRUSTED ||
	    (gap->seeks > 0 && gap->next == next && gap->offset == offset)) {
		gap->accepted++;
		gap->seeks = 0;
		return CONS_OFFSET_ACCEPT;
	}
	gap->seeks = gap->next == next ? gap->seeks + 1 : 1;
	gap->next = next;
	gap->offset = offset;
	return gap->seeks > CONS_OFFSET_SEEKS_MAX ? CONS_OFFSET_FAIL : CONS_OFFSET_SEEK;
}
