"""console accounts, monthly budgets

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_budget', sa.Float(), nullable=True))
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('guardrail_policy', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('guardrail_policy', schema=None) as batch_op:
        batch_op.drop_column('created_by')
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.drop_column('policy_version')
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('monthly_budget')
