/*
 * The batch policy (see cons_batch_due() in consumer.h): when the open batch is committed.
 * Pure: the loop (consumer.c) gathers what it knows into a struct cons_batch_view.
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
