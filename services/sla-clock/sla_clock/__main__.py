from shared.service import serve
from sla_clock.app import build_app

serve(build_app())
