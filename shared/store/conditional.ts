// A conditional write's two answers: made, or its condition did not hold (someone else wrote
// first). Every conditional write of the stores goes through here, so the SDK's exception name is
// known in one place and the stores speak of what happened, not of how DynamoDB says it.
export function isConditionFailure(error: unknown): boolean {
  return (error as Error)?.name === 'ConditionalCheckFailedException';
}

/** Makes a conditional write (`send`): true when it was made, false when its condition did not hold. */
export async function conditionalWrite(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
