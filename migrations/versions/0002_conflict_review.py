"""Kept conflicts are reviewed: each knows its visit and why it was kept, and is resolved once with a note.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspection_conflicts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inspection_conflicts_visit_id'), ['visit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inspection_conflicts_visit_id_visits'), 'visits',
                                    ['visit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_inspection_conflicts_resolved_by_id_users'), 'users',
                                    ['resolved_by_id'], ['id'])
    # Conflicts kept before this revision: their visit is the stored record's of the same UUID when
    # there is one (why they were kept was only written to the audit chain; it stays null here).
    op.execute(
        "UPDATE inspection_conflicts SET visit_id = "
        "(SELECT inspections.visit_id FROM inspections WHERE inspections.uuid = inspection_conflicts.uuid)"
    )


def downgrade():
    with op.batch_alter_table('inspection_conflicts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inspection_conflicts_resolved_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_inspection_conflicts_visit_id_visits'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_inspection_conflicts_visit_id'))
        batch_op.drop_column('resolution')
        batch_op.drop_column('resolved_by_id')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('reason')
        batch_op.drop_column('visit_id')
