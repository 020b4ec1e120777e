/* motcua-api: options, signals and the loop live in mc_service_main. */
#include "api.h"

int main(int argc, char **argv)
{
    return mc_service_main(argc, argv, &mc_api_def);
}
