"""The Flask-Migrate handle: migrations run as their own step (`flask db upgrade`), never create_all()."""
from flask_migrate import Migrate

migrate = Migrate(compare_type=True)
