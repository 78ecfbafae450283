from router.app import build_app
from shared.service import serve

# guarded: a process spawned by multiprocessing imports this module as __mp_main__ (the
# router's notification senders, router/outbox.py) and must not start a second service
if __name__ == "__main__":
    serve(build_app())
