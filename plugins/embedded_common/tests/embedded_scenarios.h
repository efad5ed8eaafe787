/*
 * embedded_scenarios.h — the lifecycle scenarios every embedded isolation
 * mode must pass (isolation between tenants, idempotency, suspend/resume,
 * archive, drift, destroy, refusals, secrets).  Each plugin's test runs
 * them against its own .so with EMBEDDED_SCENARIOS(its setup).
 */
#ifndef TND_EMBEDDED_SCENARIOS_H
#define TND_EMBEDDED_SCENARIOS_H

void scenario_provision_isolates(void **state);
void scenario_provision_idempotent(void **state);
void scenario_suspend_resume(void **state);
void scenario_archive(void **state);
void scenario_observe_drift(void **state);
void scenario_destroy(void **state);
void scenario_bad_dir(void **state);
void scenario_hostile_ids(void **state);
void scenario_no_secret_leak(void **state);
void scenario_credentials_rules(void **state);
void scenario_quota(void **state);

#define EMBEDDED_SCENARIOS(setup)                                                      \
	cmocka_unit_test_setup_teardown(scenario_provision_isolates, setup, eh_teardown),  \
	cmocka_unit_test_setup_teardown(scenario_provision_idempotent, setup, eh_teardown), \
	cmocka_unit_test_setup_teardown(scenario_suspend_resume, setup, eh_teardown),      \
	cmocka_unit_test_setup_teardown(scenario_archive, setup, eh_teardown),             \
	cmocka_unit_test_setup_teardown(scenario_observe_drift, setup, eh_teardown),       \
	cmocka_unit_test_setup_teardown(scenario_destroy, setup, eh_teardown),             \
	cmocka_unit_test_setup_teardown(scenario_bad_dir, setup, eh_teardown),             \
	cmocka_unit_test_setup_teardown(scenario_hostile_ids, setup, eh_teardown),         \
	cmocka_unit_test_setup_teardown(scenario_no_secret_leak, setup, eh_teardown),      \
	cmocka_unit_test_setup_teardown(scenario_credentials_rules, setup, eh_teardown),   \
	cmocka_unit_test_setup_teardown(scenario_quota, setup, eh_teardown)

#endif /* TND_EMBEDDED_SCENARIOS_H */
