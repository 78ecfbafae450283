from reporting.app import build_app
from shared.service import serve

serve(build_app())
