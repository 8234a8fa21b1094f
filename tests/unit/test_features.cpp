#include "unit_common.hpp"
int main(void) { return 0; }
