/* The report module's error texts (report.h's REPORT_ERR_MAP). */
#include "report/report.h"

const char *report_strerror(int err)
{
#define REPORT_ERR_TEXT(name, code, text) \
	case code:                        \
		return text;
	switch (err) {
		REPORT_ERR_MAP(REPORT_ERR_TEXT)
	}
#undef REPORT_ERR_TEXT
	return "unknown report error";
}
