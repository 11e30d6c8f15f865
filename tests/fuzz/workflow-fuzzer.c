/*
 * libFuzzer target: the workflow loader. Any bytes go to
 * workflow_load_text as a definition file; it must load or report its
 * problems, never crash, leak or read out of bounds.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "workflow.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One input: a workflow file's text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag *d = diag_create();
	struct workflow *wf;

	wf = workflow_load_text((const char *)data, size,
	    "/nonexistent/fuzz/wf.json", d);
	if (wf != NULL)
		workflow_unref(wf);
	diag_free(d);
	return 0;
}
