// Tables as earlier releases created them, for the tests that upgrade or refuse them.
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { waitForActive } from '../../shared/dynamo/table.js';

/**
 * The CreateTable of schema 1, which 0.1.0 also ran (git show 0a05258:shared/dynamo/table.ts):
 * the department index only, no job indexes.
 */
export async function createSchemaOneTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((AttributeName) => ({
        AttributeName,
        AttributeType: 'S',
      })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1-department',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  await waitForActive(client, table, 30_000);
}
