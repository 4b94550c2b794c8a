// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IVaultTarget {
    function deposit(uint256 amount) external;
    function exit(uint256 collateral, uint256 equity, bytes32 positionsHash, bytes32[] calldata proof)
        external
        returns (uint256);
}

/// @title TEST ONLY: an ERC-20 that calls back into the vault from inside transfer/transferFrom.
/// @notice Used by the tests to show the vault's reentrancy guard holds; never deploy it for users.
contract ReentrantToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    address public target;
    uint8 public mode; // 0 none, 1 re-enter deposit, 2 re-enter exit
    bool public reentered; // set when the inner call went through (it must not)

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function arm(address target_, uint8 mode_) external {
        target = target_;
        mode = mode_;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        _attack();
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        _attack();
        return true;
    }

    function _attack() private {
        if (mode == 1) {
            mode = 0;
            IVaultTarget(target).deposit(1); // reverts with Reentrant(): the whole call fails
            reentered = true;
        } else if (mode == 2) {
            mode = 0;
            IVaultTarget(target).exit(0, 0, bytes32(0), new bytes32[](0));
            reentered = true;
        }
    }
}
