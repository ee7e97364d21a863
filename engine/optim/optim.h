// Everything in engine/optim/ in one include.
#pragma once
#include "engine/optim/adam.h"
#include "engine/optim/clip_grad_norm.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/parameter_groups.h"
#include "engine/optim/reduce_lr_on_plateau.h"
#include "engine/optim/rmsprop.h"
#include "engine/optim/sgd.h"
