/*
 * The rows of dataset/ as the stream carries them: products and customers as the reference
 * records of event/ (the history row's event is ds_history_event(), inline in dataset.h).
 */
#include "dataset/dataset.h"

int ds_event_product(const struct ds_product *p, struct event_product *out)
{
	*out = (struct event_product){ p->product_id, p->aisle_id, p->department_id, p->price_cents };
	return p->product_id != 0;
}

int ds_event_customer(const struct ds_customer *c, struct event_customer *out)
{
	*out = (struct event_customer){ c->user_id,      c->state,      c->age,    c->joined_day,
					c->n_dependants, c->fam_status, c->income, c->gender };
	return c->user_id != 0;
}
