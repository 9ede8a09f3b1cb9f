#include "voxsex/error.h"
