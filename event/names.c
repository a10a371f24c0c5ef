/* The names behind the customer record's codes (state, family status): the one table of each,
 * shared by the file reader, the generator and every printer. */
#include "event/event.h"

static const char *const state_names[EVENT_STATE_COUNT] = {
	"Alabama",        "Alaska",         "Arizona",
	"Arkansas",       "California",     "Colorado",
	"Connecticut",    "Delaware",       "District of Columbia",
	"Florida",        "Georgia",        "Hawaii",
	"Idaho",          "Illinois",       "Indiana",
	"Iowa",           "Kansas",         "Kentucky",
	"Louisiana",      "Maine",          "Maryland",
	"Massachusetts",  "Michigan",       "Minnesota",
	"Mississippi",    "Missouri",       "Montana",
	"Nebraska",       "Nevada",         "New Hampshire",
	"New Jersey",     "New Mexico",     "New York",
	"North Carolina", "North Dakota",   "Ohio",
	"Oklahoma",       "Oregon",         "Pennsylvania",
	"Rhode Island",   "South Carolina", "South Dakota",
	"Tennessee",      "Texas",          "Utah",
	"Vermont",        "Virginia",       "Washington",
	"West Virginia",  "Wisconsin",      "Wyoming",
};

static const char *const fam_status_names[EVENT_FAM_STATUS_COUNT] = {
	"married",
	"single",
	"divorced/widowed",
	"living with parents and siblings",
};

const char *event_state_name(int state)
{
	return state >= 0 && state < EVENT_STATE_COUNT ? state_names[state] : NULL;
}

const char *event_fam_status_name(int fam_status)
{
	return fam_status >= 0 && fam_status < EVENT_FAM_STATUS_COUNT ? fam_status_names[fam_status] : NULL;
}
