from shared.service import serve
from sla_clock.app import build_app

# guarded: a process spawned by multiprocessing imports this module as __mp_main__ (the
# router's notification senders, router/outbox.py) and must not start a second service
if __name__ == "__main__":
    serve(build_app())
