"""The API's routes: one APIRouter per resource, each in its own module."""
