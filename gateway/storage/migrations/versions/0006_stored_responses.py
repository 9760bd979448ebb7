"""stored responses

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stored_response',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('input_items', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stored_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_response_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_stored_response_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stored_response', schema=None) as batch_op:
        batch_op.drop_index('ix_stored_response_created_at')
        batch_op.drop_index(batch_op.f('ix_stored_response_tenant_id'))

    op.drop_table('stored_response')
