"""The gateway's routes, one module per concern. Each ``router(gw)`` returns an APIRouter."""
