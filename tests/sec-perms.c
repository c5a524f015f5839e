#include "tap.h"
int main(void){skip_all("todo");}
