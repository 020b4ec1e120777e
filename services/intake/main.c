/* motcua-intake: options, signals and the loop live in mc_service_main. */
#include "intake.h"

int main(int argc, char **argv)
{
    return mc_service_main(argc, argv, &mc_intake_def);
}
