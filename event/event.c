/* Placeholder until the event codec lands. */
#include "folio/event.h"
