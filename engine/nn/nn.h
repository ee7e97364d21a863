// Everything in engine/nn/ in one include.
#pragma once
#include "engine/nn/activation.h"
#include "engine/nn/batch_norm2d.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/drop_path.h"
#include "engine/nn/dropout.h"
#include "engine/nn/flatten.h"
#include "engine/nn/global_avg_pool.h"
#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/nn/sequential.h"
#include "engine/nn/squeeze_excitation.h"
