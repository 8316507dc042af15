"""Django's PostgreSQL backend with a cheaper reset between transactional tests.

Only used by the production test stack (``tests/stacks.py``). Django empties
every table after each ``transaction=True`` test with one ``TRUNCATE`` of all
tables; on PostgreSQL that replaces each table's files and costs more than half
a second per test, which on ~600 such tests would break CI's time budget. A
``DELETE`` of each table in one transaction leaves the same empty tables
(Django's foreign keys are deferrable, so order does not matter) in a few
milliseconds. Everything else is Django's own backend, untouched.
"""
