/*
 * The rows of dataset/ as the stream carries them: products, customers and the department and
 * aisle names as the reference records of event/ (the history row's event is
 * ds_history_event(), inline in dataset.h).
 */
#include "dataset/dataset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Appends one name if it is a valid record; counts a row error (said on the report's log) if not. */
static int add_name(struct event_name *list, size_t *n, uint8_t kind, uint32_t id, const char *name,
		    struct ds_report *rep)
{
	struct event_name *e = &list[*n];
	uint8_t buf[2 * EVENT_NAME_MAX];
	size_t len;
	e->kind = kind;
	e->id = id;
	snprintf(e->name, sizeof e->name, "%s", name);
	if (event_name_encode(e, buf, sizeof buf, &len) == EVENT_OK) {
		(*n)++;
		return DS_OK;
	}
	rep->errors++;
	fprintf(rep->log ? rep->log : stderr,
		"%s %" PRIu32 ": name '%s' cannot be carried (quotes or control characters)\n",
		kind == EVENT_NAME_DEPARTMENT ? "department" : "aisle", id, name);
	return rep->on_error == DS_ON_ERROR_FAIL ? DS_ROWS : DS_OK;
}

int ds_names_read(const char *dir, struct event_name **names_out, size_t *n_out, struct ds_report *rep)
{
	char path[4096];
	struct ds_departments *d = calloc(1, sizeof *d);
	struct ds_aisles *a = calloc(1, sizeof *a);
	struct event_name *list = calloc(DS_MAX_DEPARTMENTS + DS_MAX_AISLES, sizeof *list);
	size_t n = 0;
	int rc = d && a && list ? DS_OK : DS_NOMEM;
	*names_out = NULL;
	*n_out = 0;
	snprintf(path, sizeof path, "%s/departments.csv", dir);
	if (rc == DS_OK && access(path, R_OK) == 0 && (rc = ds_departments_read(path, d, rep)) == DS_OK)
		for (int id = 1; id <= DS_MAX_DEPARTMENTS && rc == DS_OK; id++)
			if (d->names[id][0])
				rc = add_name(list, &n, EVENT_NAME_DEPARTMENT, (uint32_t)id, d->names[id], rep);
	snprintf(path, sizeof path, "%s/aisles.csv", dir);
	if (rc == DS_OK && access(path, R_OK) == 0 && (rc = ds_aisles_read(path, a, rep)) == DS_OK)
		for (int id = 1; id <= DS_MAX_AISLES && rc == DS_OK; id++)
			if (a->names[id][0])
				rc = add_name(list, &n, EVENT_NAME_AISLE, (uint32_t)id, a->names[id], rep);
	free(d);
	free(a);
	if (rc != DS_OK || n == 0) {
		free(list);
		return rc;
	}
	*names_out = list;
	*n_out = n;
	return DS_OK;
}
