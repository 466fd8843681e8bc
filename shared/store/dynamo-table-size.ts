// The table's size as DynamoDB keeps it (DescribeTable's ItemCount and TableSizeBytes, refreshed
// about every six hours): stats that cost one small call instead of a full-table scan.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEPARTMENT_INDEX } from '../dynamo/table.js';
import type { TableSize, TableSizeStore } from './types.js';

export class DynamoTableSize implements TableSizeStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async size(): Promise<TableSize> {
    const { Table } = await this.client.send(new DescribeTableCommand({ TableName: this.table }));
    const index = Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === DEPARTMENT_INDEX);
    return {
      items: Table?.ItemCount ?? 0,
      sizeBytes: Table?.TableSizeBytes ?? 0,
      usersWithDepartment: index?.ItemCount ?? 0,
      approximate: true,
    };
  }
}
